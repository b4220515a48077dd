package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// serveLinkStatsEvery is how often serve prints the packet link's counters
// while they change: once a second is as fast as a person reads them.
const serveLinkStatsEvery = time.Second

// packetFlags are serve's packet-link flags: any of them puts the
// userspace packet link in front of the tap, so a person can point any
// client at a lossy link by hand.
type packetFlags struct {
	loss, reorder, duplicate, corrupt   *float64 // percent
	delay, jitter                       *time.Duration
	mtuBlackhole                        *int
	dir                                 *string
	seed                                *uint64
	up, down                            harness.PacketFaults
	seedPicked, onUp, onDown, requested bool
}

func addPacketFlags(fs *flag.FlagSet) *packetFlags {
	return &packetFlags{
		loss:         fs.Float64("packet-loss", 0, "lose this percentage of packets on a userspace packet link behind the wire tap (TCP retransmits: the client sees stalls, not corruption)"),
		delay:        fs.Duration("packet-delay", 0, "delay every packet on the packet link by this much"),
		jitter:       fs.Duration("packet-jitter", 0, "add up to this much random delay, more or less, to each packet (packets overtake one another)"),
		reorder:      fs.Float64("packet-reorder", 0, "hold back this percentage of packets and deliver each behind the next one"),
		duplicate:    fs.Float64("packet-duplicate", 0, "deliver this percentage of packets twice"),
		corrupt:      fs.Float64("packet-corrupt", 0, "change a byte in this percentage of packets (the receiving TCP drops them: loss by checksum)"),
		mtuBlackhole: fs.Int("packet-mtu-blackhole", 0, "silently drop every packet larger than this many bytes, IP header included (broken path-MTU discovery)"),
		dir:          fs.String("packet-dir", "both", "which way the packet faults act: both, up (client to server) or down"),
		seed:         fs.Uint64("packet-seed", 0, "seed of the packet link's decisions; the same seed and traffic drop the same packets (0 picks one and prints it)"),
	}
}

// parsed reads the flags given; it reports whether the link is wanted.
func (p *packetFlags) parsed(fs *flag.FlagSet) (bool, error) {
	fs.Visit(func(f *flag.Flag) { p.requested = p.requested || strings.HasPrefix(f.Name, "packet-") })
	if !p.requested {
		return false, nil
	}
	var f harness.PacketFaults
	var errs []error
	for _, pc := range []struct {
		name string
		v    float64
		to   *float64
	}{{"loss", *p.loss, &f.Loss}, {"reorder", *p.reorder, &f.Reorder}, {"duplicate", *p.duplicate, &f.Duplicate}, {"corrupt", *p.corrupt, &f.Corrupt}} {
		if !(pc.v >= 0 && pc.v <= 100) {
			errs = append(errs, fmt.Errorf("--packet-%s %v must be a percentage, 0 to 100", pc.name, pc.v))
		}
		*pc.to = pc.v / 100
	}
	f.Delay, f.Jitter, f.MTUBlackhole = *p.delay, *p.jitter, *p.mtuBlackhole
	switch *p.dir {
	case "both":
		p.onUp, p.onDown = true, true
	case "up":
		p.onUp = true
	case "down":
		p.onDown = true
	default:
		errs = append(errs, fmt.Errorf("--packet-dir %q must be both, up or down", *p.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	if err := f.Validate(); err != nil {
		return false, err
	}
	if p.onUp {
		p.up = f
	}
	if p.onDown {
		p.down = f
	}
	if *p.seed == 0 {
		*p.seed, p.seedPicked = rand.Uint64N(1<<31-1)+1, true
	}
	return true, nil
}

// linkOptions is the link to build, nil when no packet flag was given.
func (p *packetFlags) linkOptions() *harness.LinkOptions {
	if !p.requested {
		return nil
	}
	// Behind the tap: the tap stays next to the client's socket, so what
	// serve prints of it is what reached the client.
	return &harness.LinkOptions{Seed: *p.seed, BehindTap: true}
}

// banner says where the link is, what it does, and how to replay it.
func (p *packetFlags) banner(env *harness.Env) string {
	if env.Link == nil {
		return ""
	}
	var b strings.Builder
	picked := ""
	if p.seedPicked {
		picked = ", picked at random"
	}
	fmt.Fprintf(&b, "packet link:    %s; seed %d%s (replay: --packet-seed %d)\n", harness.DescribePackets(p.up, p.down), *p.seed, picked, *p.seed)
	fmt.Fprintf(&b, "                between the wire tap and the proxy: a client's kernel TCP ends at the tap, on loopback, and the tap's\n")
	fmt.Fprintf(&b, "                connection goes through the link's entry relay (%s) and meets the faults; the client sees\n", env.Link.Addr())
	fmt.Fprintf(&b, "                stalls and delays, not the loss itself.\n")
	return b.String()
}

// streamStats prints the link's counters while they change, at most every
// serveLinkStatsEvery, until the returned function is called.
func (p *packetFlags) streamStats(env *harness.Env, out *serveOutput) (stop func()) {
	if env.Link == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(serveLinkStatsEvery)
		defer t.Stop()
		var last result.LinkPackets
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if s, _ := env.LinkStats(); s != last {
				last = s
				out.printf("%.1f ms link link-stats %s", out.since(time.Now()), packetsLine(s))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// packetsLine renders the link's counters for people.
func packetsLine(s result.LinkPackets) string {
	one := func(p result.Packets) string {
		return fmt.Sprintf("sent %d, dropped %d, too big %d, duplicated %d, reordered %d, corrupted %d, retransmitted %d",
			p.Sent, p.Dropped, p.TooBig, p.Duplicated, p.Reordered, p.Corrupted, p.Retransmitted)
	}
	return "up: " + one(s.Up) + "; down: " + one(s.Down)
}
