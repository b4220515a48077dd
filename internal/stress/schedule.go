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

// HerdAllowance is the allowance a stress time target has in place of the
// catalogue's (10 % of the bound + 25 ms): tearing down and setting up
// thousands of connections through one proxy and one server takes CPU
// time, not timer time, so it does not scale with the time scale or the
// bound. herdWhy states the measurements that sized it.
const HerdAllowance = time.Second

var herdWhy = fmt.Sprintf("herd allowance %v: the machine works through every client at once, which takes CPU time, not timer time "+
	"(measured at 5,000 clients on 2 cores: p99 detection of a close frame 0.5-1.1 s after the step returned, where the client's "+
	"own part is one read; the chain sets up about 1,000 connections a second)", HerdAllowance)

// CloseCost is what reaching one more client costs when a fault ends every
// connection at once: the server's close frame, the proxy relaying it and
// the reply, the client reading it, sockets closed, all competing for the
// same cores. The last client hears of the fault only after the machine has
// worked through the others, so "at once" targets add CloseCost per client
// to HerdAllowance. At 5,000 clients on 2 cores the p99 of close detection
// ranged from 0.1 to 1.4 s after the step returned (16 runs); the limit is
// then 1.5 s (1.06 s at 300 clients).
const CloseCost = 100 * time.Microsecond

// Profile returns the stress client profile at time scale k: every duration
// multiplied by k. At k=3 the heartbeat is 30s + 15s, near production
// timings; at k=1 a run of a minute holds a few faults.
func Profile(k float64) client.Options {
	d := func(x time.Duration) time.Duration { return time.Duration(float64(x) * k) }
	return client.Options{
		Session:          true, // continuity is judged by the session protocol's sequence numbers
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

// The close-frame faults of the schedule, one kind per close code: the
// harness names both harness.FaultCloseFrame, and the stress figures are
// per fault kind. Every other kind is the harness's own.
const (
	KindClose1001 = "close-1001"
	KindClose1012 = "close-1012"
)

// Kinds lists the fault kinds a schedule draws from, in a fixed order (the
// seed picks from it by index): each applies to every client at once.
var Kinds = []string{h.FaultProxyDown, h.FaultBlackHole, h.FaultLatency, h.FaultAbruptClose, KindClose1001, KindClose1012, h.FaultServerRestart}

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
		kind := h.FaultProxyDown
		if i > 0 {
			kind = Kinds[rng.IntN(len(Kinds))]
		}
		p := Planned{Kind: kind, At: at}
		hb := o.PingInterval + o.PongTimeout
		switch kind {
		case h.FaultProxyDown:
			p.For = between(sc(500*time.Millisecond), sc(4*time.Second))
		case h.FaultServerRestart:
			p.For = between(sc(500*time.Millisecond), sc(3*time.Second))
		case h.FaultBlackHole:
			// Longer than the heartbeat, so the heartbeat must find it
			// before the toxic's removal closes the connections.
			p.For = between(hb+sc(time.Second), hb+sc(3*time.Second))
		case h.FaultLatency:
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
// the way the catalogue derives them, each time bound with HerdAllowance in
// place of the catalogue's allowance.
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
//
// Detection counts from the fault, not from the silence before it as the
// catalogue's heartbeat targets do: a stress run has no wire tap, and the
// client's own events do not show every inbound frame (the server's acks
// of its sends raise no event, and the workers do not forward pings and
// pongs), so a silence read from them would start early and overstate the
// detection. Counted from the fault, detection can only be shorter than
// from the silence, so a client within the heartbeat bound passes; one
// that only notices late after a silence begun before the fault can go
// unseen.
type Bounds struct {
	// Disconnects says whether the fault must make every client lose its
	// connection (false: none may).
	Disconnects bool
	Detect      h.Bound
	// Redial bounds each client's first dial after the later of its loss
	// and the fault end; zero when the fault has no such bound.
	Redial  h.Bound
	Recover h.Bound
	// NoReconnectWhy says, for a fault without disconnects, why none is
	// expected.
	NoReconnectWhy string
	// Settle is how long the schedule leaves after the fault for the
	// policy's pending delays to run out and the herd to come back.
	Settle time.Duration
	// Attempts bounds each client's attempts from the fault to recovery.
	Attempts int
	// Spread is the jitter range the policy promises for the first dials
	// after the fault end, for the herd check.
	Spread time.Duration
}

// herd is b with HerdAllowance in place of its standard allowance.
func herd(b h.Bound) h.Bound {
	b.Allowance, b.AllowanceReason = HerdAllowance, herdWhy
	return b
}

// Bounds derives the fault's targets from o, for a fault that hits clients
// clients (0 when only Settle is wanted).
func (p Planned) Bounds(o client.Options, clients int) Bounds {
	delivery := time.Duration(clients) * CloseCost
	atOnce := herd(h.AtOnceBound(1, "at once"))
	atOnce.Allowance += delivery
	atOnce.AllowanceReason += fmt.Sprintf(", + %v for the machine to reach %d clients (CloseCost %v each)", delivery, clients, CloseCost)
	b := Bounds{Disconnects: true, Detect: atOnce,
		Recover: herd(h.Bound{D: o.Backoff.Max,
			Reason: fmt.Sprintf("stress goal: back within the backoff cap %v (a herd is limited by CPU, not timers; the redial target holds the client's own timing)", o.Backoff.Max)}),
	}
	outage := func(d time.Duration) {
		// h.PendingDelay's, with the outage rounded for people: an outage
		// as applied is a float of milliseconds.
		pending := h.WorstDelayAfter(o, d)
		b.Redial = herd(h.Bound{D: pending,
			Reason: fmt.Sprintf("longest backoff delay pending when a %v outage ends: %v", d.Round(time.Millisecond), pending)})
		b.Settle = b.Redial.Limit()
		b.Spread = time.Duration(float64(b.Redial.D) * o.Backoff.Jitter)
		b.Attempts = 1 + h.AttemptsWithin(o, d+HerdAllowance)
	}
	switch p.Kind {
	case h.FaultProxyDown, h.FaultServerRestart:
		outage(p.For)
	case h.FaultBlackHole:
		b.Detect = h.HeartbeatBound(o)
		b.Detect.Reason += ", counted from the fault (no tap: the silence before it is not known)"
		b.Detect.Allowance += HerdAllowance
		b.Detect.AllowanceReason = fmt.Sprintf("10%% of %v + 25ms, for measurement and scheduling, + %s", b.Detect.D, herdWhy)
		outage(p.For)
		// A dial into the hole stalls until the toxic's removal ends it:
		// its client need not be waiting on a timer at the end, so there
		// is no redial bound. And the removal ends every stalled dial at
		// the same instant, so the herd after it is spread only by the
		// next delay, the second attempt's (at 5,000 clients 4,548 dialled
		// again within its jitter range), not by the delay at the cap.
		b.Redial = h.Bound{}
		_, second := o.Backoff.Envelope(2)
		b.Spread = time.Duration(float64(second) * o.Backoff.Jitter)
	case h.FaultAbruptClose, KindClose1001, KindClose1012:
		first := h.FirstRetry(o)
		b.Redial = herd(h.Bound{D: first.D + o.CloseGrace,
			Reason: fmt.Sprintf("%s (Backoff.Initial), after a teardown of at most CloseGrace %v", first.Reason, o.CloseGrace)})
		b.Settle = b.Redial.Limit()
		b.Spread = time.Duration(float64(first.D) * o.Backoff.Jitter)
		b.Attempts = 1 + h.AttemptsWithin(o, HerdAllowance)
	case h.FaultLatency:
		b = Bounds{Disconnects: false,
			NoReconnectWhy: fmt.Sprintf("a round trip of %v stays below the dead threshold %v", 2*p.Delay, o.PingInterval+o.PongTimeout)}
	}
	return b
}

// Fault returns the harness fault that carries out p.
func (p Planned) Fault() (h.Fault, error) {
	switch p.Kind {
	case h.FaultProxyDown:
		return h.ProxyDown(p.At, p.For), nil
	case h.FaultBlackHole:
		return h.BlackHole(p.At, p.For), nil
	case h.FaultLatency:
		return h.Latency(p.At, p.For, p.Delay), nil
	case h.FaultAbruptClose:
		return h.AbruptClose(p.At), nil
	case KindClose1001:
		f := h.ServerClose(p.At, 1001, "going away")
		f.Kind = KindClose1001
		return f, nil
	case KindClose1012:
		f := h.ServerClose(p.At, 1012, "service restart")
		f.Kind = KindClose1012
		return f, nil
	case h.FaultServerRestart:
		return h.ServerRestart(p.At, p.For, true), nil
	}
	return h.Fault{}, fmt.Errorf("stress: unknown fault kind %q; known: %v", p.Kind, Kinds)
}
