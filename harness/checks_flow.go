package harness

import (
	"fmt"
	"math"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/result"
)

// Checks for faults a client may either ride out or detect, such as heavy
// packet loss: which of the two happens depends on how long TCP stalls,
// which is chance, so neither "no reconnect" nor "detect within" can be
// the target. What the profile does promise is judged instead: any loss the
// client declares is backed by the evidence its detector waits for, and
// once the fault ends messages flow again within a bound, however the
// client got there.

// FlowsAgainWithin requires every client to have messages flowing both
// ways again within b of the fault's end, whether it rode the fault out on
// its connection or reconnected: a server message delivered to it, and one
// of its own delivered to the server, both after the end. It needs a client
// that reports its messages: n/a for outside clients. It reads the fake
// server's record of the messages it received, so a scenario it defines
// cannot run against a real server.
func FlowsAgainWithin(b Bound) Check {
	c := budgetCheck("flowing", b, func(tl *Timeline, m ClientMeasure) *float64 { return tl.flowsAgain(m.Client) })
	c.needs = needsServerRecv
	eval := c.Eval
	c.Eval = func(tl *Timeline) result.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return NotApplicable(c.Target, abbrev(out)+": outside client; when its messages flow needs the client to report them, which only the reference client does")
		}
		return eval(tl)
	}
	return c
}

// flowsAgain is how long after the fault's end client id had both a server
// message delivered and one of its own delivered to the server, in ms; nil
// if it never had both.
func (tl *Timeline) flowsAgain(id string) *float64 {
	end := tl.FaultEnd()
	if isNaN(end) {
		return nil
	}
	down, up := math.NaN(), math.NaN()
	for _, e := range tl.Events {
		if e.TMS < end || e.Client != id {
			continue
		}
		switch {
		case isNaN(down) && e.Source == result.SourceClient && e.Kind == result.KindReceived:
			down = e.TMS
		case isNaN(up) && e.Source == result.SourceServer && e.Kind == result.KindRecv:
			up = e.TMS
		}
	}
	if isNaN(down) || isNaN(up) {
		return nil
	}
	return ptr(math.Max(down, up) - end)
}

// StalledConnBound is how long a client following its profile stays on a
// connection TCP has stalled (a retransmission backed off past the moment
// the link healed): its heartbeat or its ack timeout abandons it, and it
// closes within CloseGrace.
func StalledConnBound(o client.Options) Bound {
	d := max(o.PingInterval+o.PongTimeout, o.AckTimeout)
	return NewBound(d+o.CloseGrace, fmt.Sprintf("a stalled connection abandoned by the heartbeat or ack timeout (%v) and closed within CloseGrace %v", d, o.CloseGrace))
}

// LostSYNBound is how long a client following its profile stays in a
// handshake whose SYN or SYN-ACK was lost: TCP retransmits it after 1 s,
// and the client abandons it at HandshakeTimeout, whichever is first.
func LostSYNBound(o client.Options) Bound {
	return NewBound(o.HandshakeTimeout, fmt.Sprintf("a handshake whose SYN was lost abandoned at HandshakeTimeout %v", o.HandshakeTimeout))
}

// FlowsAgainBound is the longest a client following its profile can take
// to have messages flowing both ways again after a fault of length d that
// it may have ridden out or detected: at the fault's end it is, at worst,
// in a state it leaves within `stuck` (StalledConnBound, LostSYNBound),
// then waits the longest backoff delay that can be pending by then,
// connects (one handshake, scaled by k) and has the next message of each
// side delivered (every interval).
func FlowsAgainBound(o client.Options, stuck Bound, d, interval time.Duration, k Scale) Bound {
	return stuck.Plus(PendingDelay(o, d+stuck.D)).Plus(OneHandshake(k)).
		Plus(NewBound(interval, fmt.Sprintf("the next message each way (every %v)", interval)))
}

// NoFalseDetection requires every heartbeat loss a client declares to be
// backed by at least PingInterval + PongTimeout of silence. The silence is
// counted from the last frame the client reported, which is no later than
// the last it received, so a correct client always meets it; 25 ms allow
// for stamping. Ack timeouts are not judged: when an acknowledgement
// reached the client is not on the timeline (the server's receipt is, but
// on a lossy link its ack can be lost on the way back). With no heartbeat
// loss it has nothing to judge.
func NoFalseDetection(o client.Options) Check {
	hb := o.PingInterval + o.PongTimeout
	t := result.Target{Name: "no-false-detection", Unit: result.UnitMS, Limit: ms(hb - AllowanceFloor),
		Want: fmt.Sprintf("heartbeat losses after >= %v of silence", hb-AllowanceFloor),
		Why:  fmt.Sprintf("PingInterval %v + PongTimeout %v, - %v for event stamping", o.PingInterval, o.PongTimeout, AllowanceFloor)}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		if tl.Outside(id) {
			return nothingToJudge("outside client: which detector fired is not on the wire")
		}
		evs := tl.ClientEvents(id)
		n, bad := 0, []string{}
		for _, e := range evs {
			if e.Kind != result.KindDisconnected || e.Cause != result.CauseHeartbeat || e.TMS < tl.faultIssued() {
				continue
			}
			from := tl.lastInbound(id, evs, e.TMS)
			if from == nil {
				continue // nothing to count from
			}
			n++
			if silence := e.TMS - *from; silence < ms(hb-AllowanceFloor) {
				bad = append(bad, fmt.Sprintf("heartbeat at %s after %s of silence", fmtMS(e.TMS), fmtMS(silence)))
			}
		}
		if n == 0 {
			return nothingToJudge("declared no heartbeat loss")
		}
		return judgedIf(fmt.Sprintf("%d heartbeat losses", n), abbrev(bad), len(bad) == 0)
	})
}

// WorkloadOnly makes c not applicable to outside clients, for the reason
// why: a check about what the harness's workload makes the client do (send
// messages larger than an MTU, say), which an outside program, sending what
// it likes, does not run.
func WorkloadOnly(why string, c Check) Check { return outsideNA(why, c) }
