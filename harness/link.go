package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/chaosnet/segment"
	"github.com/wschaos/wschaos/result"
)

// The packet link: a userspace network segment (two TCP/IP stacks from
// gVisor's netstack joined by a seeded, programmable link) in front of the
// chain, so a scenario can lose, reorder, duplicate or corrupt packets
// rather than bytes:
//
//	client ──> packet link ──> tap ──> Toxiproxy proxy ──> fake server
//
// The reference client dials through the link's client stack, so its own
// TCP meets the faults: it retransmits with RTO backoff and sees stalls,
// never corruption. An outside client dials the tap on loopback as ever;
// the link then sits behind the tap (LinkOptions.BehindTap), whose
// connection goes through the link's entry relay. The outside client's
// kernel TCP ends at the tap, and the relay's connection through the link
// meets the faults, so it sees their effects (stalls, delays, the closes
// the relay passes on) but not the loss itself, and the tap still sees
// what reached its own socket:
//
//	outside client ──> tap ──> packet link ──> Toxiproxy proxy ──> fake server
//
// Toxiproxy's faults act on the byte stream behind the link, so packet
// faults compose with every other fault.

// PacketFaults are the packet faults of one direction of the link: loss,
// Gilbert-Elliott bursts, delay and jitter, reordering, duplication,
// corruption, a bandwidth cap, an MTU black hole, a black hole. The zero
// value passes every packet untouched.
type PacketFaults = segment.Faults

// PacketBurst is the Gilbert-Elliott bursty-loss model of PacketFaults.
type PacketBurst = segment.Burst

// PacketDecision is what the link decided for one packet: its direction,
// its index in that direction, whether and why it was dropped, and what
// else was done to it.
type PacketDecision = segment.Decision

// LinkOptions put the packet link in front of the chain.
type LinkOptions struct {
	// MTU is the link's MTU in bytes, IP header included. Defaults to 1500,
	// Ethernet's.
	MTU int
	// Seed seeds every decision of the link: the same seed, faults and
	// packets drop the same packets. Run sets it to RunOptions.Seed.
	Seed uint64
	// Listen is where the entry relay for outside clients listens. Defaults
	// to a free 127.0.0.1 port.
	Listen string
	// BehindTap puts the link between the wire tap and the proxy instead
	// of in front of the tap, for clients that dial over the kernel: the
	// tap then sees what reached their own socket, and the link's entry
	// relay takes the tap's connections through the link. Run sets it for
	// outside clients.
	BehindTap bool
	// Trace, if set, receives every decision of the link, in order per
	// direction, on the link's own goroutines: it must not block. The same
	// seed gives the n-th packet of a direction the same fate under the
	// same faults, so a trace shows what a seed replays.
	Trace func(PacketDecision)
}

// LinkStatsEvery is how often a run records the link's counters on the
// timeline while they change: often enough to draw the drops against the
// client's events, rarely enough to keep the timeline small.
const LinkStatsEvery = 100 * time.Millisecond

// Kinds of the packet faults, as results name them.
const (
	FaultPacketLoss      = "packet-loss"
	FaultBurstLoss       = "burst-loss"
	FaultPacketReorder   = "packet-reorder"
	FaultPacketDuplicate = "packet-duplicate"
	FaultMTUBlackHole    = "mtu-black-hole"
	FaultPacketBlackHole = "packet-black-hole"
)

var errNoLink = errors.New("harness: the scenario runs without the packet link (a packet fault or Scenario.Link puts it in front of the chain)")

// startTapAndLink starts the wire tap in front of the proxy and, when asked
// for, the packet link: in front of the tap, or between it and the proxy
// (LinkOptions.BehindTap).
func (e *Env) startTapAndLink(opts EnvOptions) error {
	link := func(upstream string) error {
		o := opts.Link
		s, err := segment.New(upstream, segment.Options{Seed: o.Seed, MTU: o.MTU, Listen: o.Listen, Trace: o.Trace})
		if err != nil {
			return fmt.Errorf("harness: packet link: %w", err)
		}
		e.Link = s
		return nil
	}
	upstream := e.Proxy.Addr()
	if opts.Link != nil && opts.Link.BehindTap {
		if err := link(upstream); err != nil {
			return err
		}
		e.linkBehindTap, upstream = true, e.Link.Addr()
	}
	var err error
	e.Tap, err = chaosnet.NewTapWith(upstream, chaosnet.TapOptions{
		OnEvent: opts.OnTap, MaxConns: opts.MaxConns, MaxConnsPerAddr: opts.MaxConnsPerAddr,
	})
	if err != nil {
		return fmt.Errorf("harness: wire tap: %w", err)
	}
	if opts.Link != nil && !opts.Link.BehindTap {
		return link(e.Tap.Addr())
	}
	return nil
}

// tapUpstream is where a wire tap connects: the packet link's entry relay
// when the link sits behind the tap, else the proxy.
func (e *Env) tapUpstream() string {
	if e.Link != nil && e.linkBehindTap {
		return e.Link.Addr()
	}
	return e.Proxy.Addr()
}

// SetPacketFaults replaces the link's faults, up (client to server) and
// down, from the next packet on.
func (e *Env) SetPacketFaults(up, down PacketFaults) error {
	if e.Link == nil {
		return errNoLink
	}
	return errors.Join(e.Link.SetFaults(segment.Up, up), e.Link.SetFaults(segment.Down, down))
}

// LinkStats returns the link's counters so far, per direction; false when
// there is no link.
func (e *Env) LinkStats() (result.LinkPackets, bool) {
	if e.Link == nil {
		return result.LinkPackets{}, false
	}
	return e.Link.Stats().LinkPackets(), true
}

// PacketFault sets up on the link's client-to-server packets and down on
// its server-to-client ones at `at`, and clears both d later. Packet
// faults of one scenario must not overlap in time: each sets the whole
// link, so combine them into one.
func PacketFault(kind string, at, d time.Duration, up, down PacketFaults) Fault {
	return Fault{
		Kind: kind, Layer: result.LayerPacket, At: at, For: d,
		Text:  fmt.Sprintf("%s for %v", DescribePackets(up, down), d),
		Start: func(ctx context.Context, env *Env) error { return env.SetPacketFaults(up, down) },
		Stop:  func(ctx context.Context, env *Env) error { return env.SetPacketFaults(PacketFaults{}, PacketFaults{}) },
		validate: func() error {
			return errors.Join(up.Validate(), down.Validate())
		},
	}
}

// bothWays is a packet fault that does f in both directions.
func bothWays(kind string, at, d time.Duration, f PacketFaults) Fault {
	return PacketFault(kind, at, d, f, f)
}

// PacketLoss loses each packet with probability p, both ways.
func PacketLoss(at, d time.Duration, p float64) Fault {
	return bothWays(FaultPacketLoss, at, d, PacketFaults{Loss: p})
}

// BurstLoss loses packets in bursts (the Gilbert-Elliott model), both ways.
func BurstLoss(at, d time.Duration, b PacketBurst) Fault {
	return bothWays(FaultBurstLoss, at, d, PacketFaults{Burst: b})
}

// Reorder holds each packet back with probability p, both ways, and
// delivers it right behind the next one.
func Reorder(at, d time.Duration, p float64) Fault {
	return bothWays(FaultPacketReorder, at, d, PacketFaults{Reorder: p})
}

// Duplicate delivers each packet twice with probability p, both ways.
func Duplicate(at, d time.Duration, p float64) Fault {
	return bothWays(FaultPacketDuplicate, at, d, PacketFaults{Duplicate: p})
}

// MTUBlackHole drops every packet larger than size bytes (IP header
// included), both ways, silently: a path whose ICMP "fragmentation needed"
// is filtered.
func MTUBlackHole(at, d time.Duration, size int) Fault {
	return bothWays(FaultMTUBlackHole, at, d, PacketFaults{MTUBlackhole: size})
}

// PacketBlackHole loses every packet of one direction, client to server
// when up, server to client otherwise, while the other still flows: a
// half-open link.
func PacketBlackHole(at, d time.Duration, up bool) Fault {
	var u, dn PacketFaults
	if up {
		u.Blackhole = true
	} else {
		dn.Blackhole = true
	}
	return PacketFault(FaultPacketBlackHole, at, d, u, dn)
}

// DescribePackets says what up and down do, for people: "loss 5% both
// ways", "up: MTU black hole 1280 B; down: none".
func DescribePackets(up, down PacketFaults) string {
	u, d := describeFaults(up), describeFaults(down)
	if u == d {
		return u + " both ways"
	}
	return "up: " + u + "; down: " + d
}

func describeFaults(f PacketFaults) string {
	var parts []string
	add := func(ok bool, format string, args ...any) {
		if ok {
			parts = append(parts, fmt.Sprintf(format, args...))
		}
	}
	pct := func(p float64) string { return fmt.Sprintf("%g%%", 100*p) }
	add(f.Blackhole, "black hole")
	add(f.MTUBlackhole > 0, "MTU black hole %d B", f.MTUBlackhole)
	add(f.Loss > 0, "loss %s", pct(f.Loss))
	add(f.Burst.ToBad > 0, "burst loss (Gilbert-Elliott: to bad %s, to good %s, loss %s good, %s bad)",
		pct(f.Burst.ToBad), pct(f.Burst.ToGood), pct(f.Burst.LossGood), pct(cmpOrF(f.Burst.LossBad, 1)))
	add(f.Bandwidth > 0, "%d B/s", f.Bandwidth)
	add(f.Corrupt > 0, "corrupt %s", pct(f.Corrupt))
	add(f.Delay > 0 || f.Jitter > 0, "delay %v ± %v", f.Delay, f.Jitter)
	add(f.Duplicate > 0, "duplicate %s", pct(f.Duplicate))
	add(f.Reorder > 0, "reorder %s", pct(f.Reorder))
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func cmpOrF(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// linkSampler records the link's counters on the timeline while they
// change, at most every LinkStatsEvery, and once more when it stops.
type linkSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	last result.LinkPackets
}

// sampleLink starts recording the link's counters; the returned function
// stops it, records the final counters and returns them.
func (r *run) sampleLink() (stop func() result.LinkPackets) {
	s := &linkSampler{stop: make(chan struct{})}
	record := func(force bool) {
		p, _ := r.env.LinkStats()
		if p == s.last && !force {
			return
		}
		s.last = p
		r.note(time.Now(), result.Event{Source: result.SourceLink, Kind: result.KindLinkStats, Packets: &p}, nil)
	}
	record(true)
	s.wg.Go(func() {
		t := time.NewTicker(LinkStatsEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				record(false)
			}
		}
	})
	return func() result.LinkPackets {
		close(s.stop)
		s.wg.Wait()
		record(true)
		return s.last
	}
}

// linkOptions is the packet link the scenario runs over, seeded with the
// run's seed; nil when it runs without one.
func (r *run) linkOptions() *LinkOptions {
	if !r.sc.UsesLink() {
		return nil
	}
	var o LinkOptions
	if r.sc.Link != nil {
		o = *r.sc.Link
	}
	o.Seed, o.Listen, o.BehindTap = uint64(r.opts.Seed), "", r.wire != nil
	return &o
}

// noteLink says on the timeline where the packet link sits and, for an
// outside client, where its own TCP ends.
func (r *run) noteLink() {
	if r.env.Link == nil {
		return
	}
	if r.wire != nil {
		for _, o := range r.wire {
			o.mu.Lock()
			o.linked = true
			o.mu.Unlock()
		}
		r.harnessNote("packet link between the wire tap and the proxy; the outside client dials the tap: its kernel TCP ends there, on loopback, " +
			"and the tap's connection through the link's entry relay (" + r.env.Link.Addr() + ") meets the packet faults, " +
			"so the client sees their effects (stalls, delays, closes passed on), not the loss itself; the tap sees what reached the client's own socket")
		return
	}
	r.harnessNote("packet link in front of the tap; the client dials through its client stack, so its own TCP meets the packet faults")
}

func (r *run) setLink(p result.LinkPackets) {
	r.mu.Lock()
	r.link = &p
	r.mu.Unlock()
}
