package stress

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
)

// Base rates at time scale 1. They are chosen so that 5,000 clients fit a
// 2-core machine: a heartbeat of PingInterval 10s (pings are rare: the push
// every 10s and the server's acks of the client's sends every 10s keep
// inbound traffic flowing, and any inbound frame counts), one message each
// way every 10s per client (500 messages a second each way at 5,000
// clients). At a message every 5s the steady traffic took about a third of
// the machine's CPU, leaving less for the reconnect bursts the run is about.
//
// The backoff runs from 1s to a cap of 10s with 50% jitter. The cap is
// sized for the herd: a fleet's retries at the cap are spread over
// cap x jitter, and that window must hold every client at the rate the
// server side can take them, or a long outage ends in a queue. The chain
// here (Toxiproxy and the fake server on 2 cores) sets up about 1,000
// connections a second, so 5,000 clients need a window of 5s: a cap of 10s.
// With a cap of 5s (a window of 2.5s) the retries at the cap came twice as
// fast as they could be served.
const (
	basePush = 10 * time.Second
	baseSend = 10 * time.Second
)

// HerdAllowance is what a stress target adds for the machine working
// through every client at once: tearing down and setting up thousands of
// connections through one proxy and one server takes CPU time, not timer
// time, so it does not scale with the time scale.
const HerdAllowance = time.Second

// CloseCost is what reaching one more client costs when a fault ends every
// connection at once: the server's close frame, the proxy relaying it and
// the reply, the client reading it, sockets closed, all competing for the
// same cores. The last client hears of the fault only after the machine has
// worked through the others, so "at once" targets add CloseCost per client
// on top of HerdAllowance. At 5,000 clients on 2 cores the p99 of close
// detection ranged from 0.1 to 1.4 s after the step returned (16 runs);
// the bound is then 1.6 s (1.13 s at 300 clients).
const CloseCost = 100 * time.Microsecond

// Profile returns the stress client profile at time scale k: every duration
// multiplied by k. At k=3 the heartbeat is 30s + 15s, near production
// timings; at k=1 a run of a minute holds a few faults.
func Profile(k float64) client.Options {
	d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * k) }
	return client.Options{
		PingInterval:     d(10 * time.Second),
		PongTimeout:      d(5 * time.Second),
		HandshakeTimeout: d(10 * time.Second),
		CloseGrace:       d(250 * time.Millisecond),
		Backoff: client.Backoff{
			Initial:    d(time.Second),
			Max:        d(10 * time.Second),
			Multiplier: 2,
			Jitter:     0.5,
		},
		// Short enough that a client back from one fault has reset its
		// attempt counter before the next (the schedule leaves that long).
		MinHealthyUptime: d(3 * time.Second),
		HintMax:          d(20 * time.Second),
		AckDelay:         d(100 * time.Millisecond),
	}
}

// effective returns the profile with the client's defaults applied, as the
// targets are derived from it.
func effective(k float64) client.Options {
	c, err := client.New("ws://127.0.0.1:1/ws", Profile(k))
	if err != nil {
		panic("stress: stress profile invalid: " + err.Error()) // a bug in Profile
	}
	return c.Options()
}

// Fault kinds the schedule draws from: each applies to every client at once.
const (
	KindProxyDown     = "proxy-down"
	KindBlackHole     = "black-hole"
	KindLatency       = "latency"
	KindAbruptClose   = "abrupt-close"
	KindClose1001     = "close-1001"
	KindClose1012     = "close-1012"
	KindServerRestart = "server-restart"
)

// Kinds lists the fault kinds a schedule draws from, in a fixed order.
var Kinds = []string{KindProxyDown, KindBlackHole, KindLatency, KindAbruptClose, KindClose1001, KindClose1012, KindServerRestart}

// Planned is one fault of a schedule, in schedule time (from warm-up).
type Planned struct {
	Kind string        `json:"kind"`
	At   time.Duration `json:"at"`
	For  time.Duration `json:"for"`
	// Delay is the latency added each way, for KindLatency.
	Delay time.Duration `json:"delay,omitempty"`
}

// Schedule is a seeded random fault schedule: the same seed, duration and
// time scale give the same schedule.
type Schedule struct {
	Seed      int64
	Duration  time.Duration
	Timescale float64
	Faults    []Planned
}

// NewSchedule draws a schedule that fits in d at time scale k. The first
// fault is always a proxy-down mass drop, so every run measures the herd;
// the rest are drawn uniformly from Kinds. After each fault the schedule
// leaves the fault's recovery bound, MinHealthyUptime and a second (all
// scaled) plus a random pause, so each fault is measured from a settled,
// healthy state.
func NewSchedule(seed int64, d time.Duration, k float64) (Schedule, error) {
	if k <= 0 {
		return Schedule{}, fmt.Errorf("stress: timescale %g must be above 0", k)
	}
	o := effective(k)
	sc := func(x time.Duration) time.Duration { return time.Duration(float64(x) * k) }
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	s := Schedule{Seed: seed, Duration: d, Timescale: k}
	at := sc(2 * time.Second)
	for i := 0; ; i++ {
		kind := KindProxyDown
		if i > 0 {
			kind = Kinds[rng.IntN(len(Kinds))]
		}
		p := Planned{Kind: kind, At: at}
		hb := o.PingInterval + o.PongTimeout
		switch kind {
		case KindProxyDown:
			p.For = between(sc(500*time.Millisecond), sc(4*time.Second))
		case KindServerRestart:
			p.For = between(sc(500*time.Millisecond), sc(3*time.Second))
		case KindBlackHole:
			// Longer than the heartbeat, so the heartbeat must find it
			// before the toxic's removal closes the connections.
			p.For = between(hb+sc(time.Second), hb+sc(3*time.Second))
		case KindLatency:
			p.For = between(sc(2*time.Second), sc(5*time.Second))
			p.Delay = o.PongTimeout / 2
		}
		b := p.Bounds(o, 0)
		quiet := b.Settle + o.MinHealthyUptime + sc(time.Second)
		end := p.At + p.For + quiet
		if end > d {
			if i == 0 {
				return Schedule{}, fmt.Errorf("stress: duration %v is too short at timescale %g: the first fault (%s for %v) and its recovery need %v",
					d, k, p.Kind, p.For, end.Round(time.Second))
			}
			return s, nil
		}
		s.Faults = append(s.Faults, p)
		at = end + between(0, sc(2*time.Second))
	}
}

// Bounds are the targets for one fault, derived from the client profile
// the way the catalogue derives them, plus HerdAllowance.
//
// Recovery is held to the stated stress goal, not to the catalogue's
// per-client bound: after a mass drop the 99th percentile is back within
// the backoff cap plus HerdAllowance. The catalogue's bound (the delay that
// can be pending plus a handshake) assumes the machine sets a connection up
// at once; a herd of thousands is limited by CPU instead (on 2 cores the
// chain re-establishes about 1,000 connections a second, so 5,000 clients
// need about five seconds whatever their policy). What the client itself
// decides, when it dials again, is held to its policy by the redial target,
// which the machine's capacity does not move.
type Bounds struct {
	// Disconnects says whether the fault must make every client lose its
	// connection (false: none may).
	Disconnects bool
	Detect      time.Duration
	DetectWhy   string
	// Redial bounds each client's first dial after the later of its loss
	// and the fault end; 0 when the fault has no such bound.
	Redial    time.Duration
	RedialWhy string
	Recover   time.Duration
	// RecoverWhy explains Recover (for a fault without disconnects, why
	// none is expected).
	RecoverWhy string
	// Settle is how long the schedule leaves after the fault for the
	// policy's pending delays to run out and the herd to come back.
	Settle time.Duration
	// Attempts bounds each client's attempts from the fault to recovery.
	Attempts int
	// Spread is the jitter range the policy promises for the first dials
	// after the fault end, for the herd check.
	Spread time.Duration
}

// Bounds derives the fault's targets from o, for a fault that hits clients
// clients (0 when only Settle is wanted).
func (p Planned) Bounds(o client.Options, clients int) Bounds {
	herd := fmt.Sprintf(" + herd allowance %v", HerdAllowance)
	delivery := time.Duration(clients) * CloseCost
	atOnce := h.AtOnce + HerdAllowance + delivery
	atOnceWhy := fmt.Sprintf("at once: no timer, only scheduling (harness.AtOnce %v)", h.AtOnce) + herd +
		fmt.Sprintf(" + %v for the machine to reach %d clients (CloseCost %v each)", delivery, clients, CloseCost)
	b := Bounds{Disconnects: true, Detect: atOnce, DetectWhy: atOnceWhy,
		Recover:    o.Backoff.Max + HerdAllowance,
		RecoverWhy: fmt.Sprintf("stress goal: back within the backoff cap %v%s (a herd is limited by CPU, not timers; the redial target holds the client's own timing)", o.Backoff.Max, herd),
	}
	outage := func(d time.Duration) {
		pending := h.WorstDelayAfter(o, d)
		b.Redial = pending + HerdAllowance
		b.Settle = b.Redial
		b.RedialWhy = fmt.Sprintf("longest backoff delay pending when a %v outage ends: %v", d.Round(time.Millisecond), pending) + herd
		b.Spread = time.Duration(float64(pending) * o.Backoff.Jitter)
		b.Attempts = 1 + h.AttemptsWithin(o, d+HerdAllowance)
	}
	switch p.Kind {
	case KindProxyDown, KindServerRestart:
		outage(p.For)
	case KindBlackHole:
		hb := o.PingInterval + o.PongTimeout
		b.Detect = hb + h.Slack(hb) + HerdAllowance
		b.DetectWhy = fmt.Sprintf("PingInterval %v + PongTimeout %v, + slack %v", o.PingInterval, o.PongTimeout, h.Slack(hb)) + herd
		outage(p.For)
		// A dial into the hole stalls until the toxic's removal ends it:
		// its client need not be waiting on a timer at the end, so there
		// is no redial bound. And the removal ends every stalled dial at
		// the same instant, so the herd after it is spread only by the
		// next delay, the second attempt's (at 5,000 clients 4,548 dialled
		// again within its jitter range), not by the delay at the cap.
		b.Redial, b.RedialWhy = 0, ""
		_, second := o.Backoff.Envelope(2)
		b.Spread = time.Duration(float64(second) * o.Backoff.Jitter)
	case KindAbruptClose, KindClose1001, KindClose1012:
		_, first := o.Backoff.Envelope(1)
		b.Redial = first + o.CloseGrace + HerdAllowance
		b.Settle = b.Redial
		b.RedialWhy = fmt.Sprintf("first retry at most %v (Backoff.Initial) after the loss, after a teardown of at most CloseGrace %v", first, o.CloseGrace) + herd
		b.Spread = time.Duration(float64(first) * o.Backoff.Jitter)
		b.Attempts = 1 + h.AttemptsWithin(o, HerdAllowance)
	case KindLatency:
		b = Bounds{Disconnects: false, Recover: 0,
			RecoverWhy: fmt.Sprintf("a round trip of %v stays below the dead threshold %v", 2*p.Delay, o.PingInterval+o.PongTimeout)}
	}
	return b
}

// Fault returns the harness fault that carries out p.
func (p Planned) Fault() (h.Fault, error) {
	switch p.Kind {
	case KindProxyDown:
		return h.ProxyDown(p.At, p.For), nil
	case KindBlackHole:
		return h.BlackHole(p.At, p.For), nil
	case KindLatency:
		return h.Latency(p.At, p.For, p.Delay), nil
	case KindAbruptClose:
		return h.AbruptClose(p.At), nil
	case KindClose1001:
		f := h.ServerClose(p.At, 1001, "going away")
		f.Kind = KindClose1001
		return f, nil
	case KindClose1012:
		f := h.ServerClose(p.At, 1012, "service restart")
		f.Kind = KindClose1012
		return f, nil
	case KindServerRestart:
		return h.ServerRestart(p.At, p.For, true), nil
	}
	return h.Fault{}, fmt.Errorf("stress: unknown fault kind %q; known: %v", p.Kind, Kinds)
}
