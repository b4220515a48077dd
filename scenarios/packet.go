package scenarios

import (
	"fmt"
	"time"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// Packet scenarios: faults on the packet link in front of the chain
// (harness/link.go). The reference client's own TCP runs in the link's
// client stack, so it loses, reorders and duplicates packets, and
// retransmits them with the stack's RTO (200 ms at least, doubling on each
// loss of the same segment), as a kernel's TCP does. TCP's timers are not
// stretched by the catalogue's time scale: the reasons below state them at
// scale 1, where they weigh the most against the compressed profile.

// minRTO is the packet link's minimum retransmission timeout (gVisor's
// and Linux's); synRTO its first retransmission of a lost SYN or SYN-ACK.
const (
	minRTO = 200 * time.Millisecond
	synRTO = time.Second
)

// mtuBlackHole is the largest packet the MTUBlackHole scenario lets
// through (IPv6's minimum MTU, a common tunnel MTU); bigMessage is the
// size of the messages its workload sends, so every one of them is cut
// into full-sized 1500-byte packets that exceed it.
const (
	mtuBlackHole = 1280
	bigMessage   = 4096
)

// packet: the packet scenarios, in a stable order.
func (c cat) packet() []h.Scenario {
	return []h.Scenario{c.packetLoss5(), c.packetLoss30(), c.burstLoss(), c.reorder(), c.duplicate(), c.mtuBlackHole(), c.lossyHalfOpen()}
}

// workloadEvery is the harness's default SendInterval, which the packet
// scenarios keep: a message every 50 ms from the client.
const workloadEvery = 50 * time.Millisecond

// interval is the longest gap between two messages of the workload and
// the push: the most a message in either direction waits for the next.
func (c cat) interval() time.Duration { return max(c.push(), workloadEvery) }

func (c cat) packetLoss5() h.Scenario {
	d := c.d(3 * time.Second)
	return h.Scenario{
		Name: "PacketLoss5",
		Description: "The link loses 5% of packets both ways for 3 s while messages flow every 50 ms each way. TCP retransmits what is lost; " +
			"the application sees short stalls, never a gap or a corrupt message. The client must not mistake a stall for a dead peer.",
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{h.PacketLoss(c.warm(), d, 0.05)},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.Defining(h.NoReconnect(fmt.Sprintf("with a message every %v each way, a lost segment is retransmitted as soon as a later one is acknowledged (SACK, RACK), "+
					"within about one message interval, not the %v minimum RTO; a stall past the heartbeat bound %v would take some seven losses of the same data in a row "+
					"(0.05^7). Measured: at most 152 ms of silence in 10 minutes of 5%% loss", c.interval(), minRTO, o.PingInterval+o.PongTimeout))),
				c.noLoss(),
			}
		},
	}
}

// lossyChecks are the targets of a fault the client may ride out or
// detect: nothing it declares is premature, messages flow again within the
// bound once the fault ends, and none is lost on the way.
func (c cat) lossyChecks(o client.Options, d time.Duration) []h.Check {
	stuck := h.StalledConnBound(o)
	if syn := h.LostSYNBound(o); syn.D > stuck.D {
		stuck = syn
	}
	return []h.Check{
		h.Defining(h.FlowsAgainWithin(h.FlowsAgainBound(o, stuck, d, c.interval(), c.k))),
		h.NoFalseDetection(o),
		c.noLoss(),
	}
}

func (c cat) packetLoss30() h.Scenario {
	d := c.d(2 * time.Second)
	return h.Scenario{
		Name: "PacketLoss30",
		Description: "The link loses 30% of packets both ways for 2 s. A segment and its acknowledgement both get through only half the time; " +
			"SACK recovers most losses within a message interval, but a segment lost twice in a row waits the 200 ms minimum RTO and then 400 ms more: " +
			"600 ms of stall, past the 350 ms heartbeat bound and the ack timeout. Whether a run brings such a stall is chance (about half of 2 s runs do), " +
			"so the client may ride the loss out or detect it: either is right, a detection before its bound is not, and once the loss ends messages must flow again, none lost.",
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{h.PacketLoss(c.warm(), d, 0.30)},
		Checks: func(o client.Options) []h.Check { return c.lossyChecks(o, d) },
	}
}

// burstModel is BurstLoss's Gilbert-Elliott model: the link turns bad for
// 2% of packets and good again for 10%, so a burst loses 10 packets in a
// row on average (some 100 ms of traffic) and 17% of all packets.
var burstModel = h.PacketBurst{ToBad: 0.02, ToGood: 0.10}

func (c cat) burstLoss() h.Scenario {
	d := c.d(2 * time.Second)
	return h.Scenario{
		Name: "BurstLoss",
		Description: "The link loses packets in bursts (Gilbert-Elliott: 10 packets in a row on average, 17% overall) both ways for 2 s. " +
			"A burst takes a segment and its fast retransmission together, so TCP waits out its RTO (200 ms, doubling while the burst lasts): " +
			"stalls of 200-600 ms, around the 350 ms heartbeat bound. The client may ride them out or detect them: a detection before its bound is wrong, " +
			"and once the bursts end messages must flow again, none lost.",
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{h.BurstLoss(c.warm(), d, burstModel)},
		Checks: func(o client.Options) []h.Check { return c.lossyChecks(o, d) },
	}
}

// hiddenByTCP is a scenario whose packet fault TCP repairs entirely: the
// client must not notice it at all.
func (c cat) hiddenByTCP(name, description string, f h.Fault, why string) h.Scenario {
	return h.Scenario{
		Name: name, Description: description,
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{f},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{h.Defining(h.NoReconnect(why)), c.noLoss()}
		},
	}
}

func (c cat) reorder() h.Scenario {
	return c.hiddenByTCP("Reorder",
		"The link holds back a quarter of the packets both ways for 2 s and delivers each behind the next one. TCP puts the bytes back in order; the client must not notice: no reconnect, every message intact and in order.",
		h.Reorder(c.warm(), c.d(2*time.Second), 0.25),
		"reordered segments are put back in order by TCP's sequence numbers; at worst one is retransmitted at once when three later ones arrive first")
}

func (c cat) duplicate() h.Scenario {
	return c.hiddenByTCP("Duplicate",
		"The link delivers a quarter of the packets twice, both ways, for 2 s. TCP discards the copies; the client must not notice: no reconnect, no message twice.",
		h.Duplicate(c.warm(), c.d(2*time.Second), 0.25),
		"a duplicated segment carries sequence numbers TCP already has, so it is acknowledged and dropped")
}

func (c cat) mtuBlackHole() h.Scenario {
	d := c.d(1500 * time.Millisecond)
	return h.Scenario{
		Name: "MTUBlackHole",
		Description: fmt.Sprintf("For 1.5 s the link silently drops every packet larger than %d bytes (a path whose ICMP \"fragmentation needed\" is filtered), "+
			"while the client sends a %d-byte message every 50 ms. Its messages go out in full 1500-byte packets and never arrive, and everything it writes after them waits behind them; "+
			"pings, pushes and acknowledgements are small and pass. The ack timeout must notice, and the client must recover once the path is whole.", mtuBlackHole, bigMessage),
		Client:      c.profile(),
		Server:      c.server(),
		MessageSize: bigMessage,
		Faults:      []h.Fault{h.MTUBlackHole(c.warm(), d, mtuBlackHole)},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.Defining(h.WorkloadOnly(fmt.Sprintf("the hole bites frames over %d bytes, which the workload sends and an outside client may not", mtuBlackHole),
					h.DetectAckWithin(h.NewBound(o.AckTimeout, fmt.Sprintf("AckTimeout %v after the first %d-byte message sent into the hole", o.AckTimeout, bigMessage))))),
				h.NoFalseDetection(o),
				h.FlowsAgainWithin(h.FlowsAgainBound(o, h.StalledConnBound(o), d, c.interval(), c.k)),
				c.noLoss(),
			}
		},
	}
}

func (c cat) lossyHalfOpen() h.Scenario {
	d := c.d(2500 * time.Millisecond)
	return h.Scenario{
		Name: "LossyHalfOpen",
		Description: "For 2.5 s the link loses every packet from the server to the client, while the client's own packets still arrive. " +
			"Nothing reaches the client, not even TCP's acknowledgements or a SYN-ACK: only its heartbeat can tell. It must declare the connection dead within PingInterval + PongTimeout, " +
			"give up each reconnect whose SYN-ACK is lost at its handshake timeout rather than wait on TCP's own SYN retries, and be back soon after the link is whole.",
		Client:       c.profile(),
		Server:       c.server(),
		SendInterval: -1, // the server's acks would be inbound frames the client does not report; this fault is about silence
		Faults:       []h.Fault{h.PacketBlackHole(c.warm(), d, false)},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.Defining(h.DetectSilenceWithin(c.heartbeat(o, d))),
				h.GivesUpWithin(result.CauseHandshakeTimeout, h.NewBound(o.HandshakeTimeout,
					fmt.Sprintf("HandshakeTimeout %v bounds the TCP connect too: TCP would retry a lost SYN only after %v, then 2 s, 4 s... for minutes", o.HandshakeTimeout, synRTO))),
				c.recoverIn(c.slowLinkPending(o, d)),
			}
		},
	}
}
