package groundtruth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
	"github.com/wschaos/wschaos/scenarios"
)

// Case is one scenario and how to derive its true figures.
type Case struct {
	Scenario harness.Scenario
	// figures derives the true figures from the configuration and the fault
	// window the run recorded, and pairs them with the measured ones. stalled
	// is the machine's longest stall between two moments of the timeline, in
	// ms.
	figures func(res result.Scenario, stalled func(fromMS, toMS float64) float64) ([]Figure, error)
}

// Name is the scenario's name.
func (c Case) Name() string { return c.Scenario.Name }

// Run runs the case and holds its measurements against the truth, with a
// timer probe running alongside to measure how late the machine ran. It
// fails when the run cannot be judged: the scenario did not run, or
// measured nothing.
func (c Case) Run(ctx context.Context, opts harness.RunOptions) (result.Scenario, []Figure, error) {
	p := startProbe()
	// The recorder's time origin is set as Run starts: within
	// microseconds of this.
	origin := time.Now()
	res := harness.Run(ctx, c.Scenario, opts)
	p.close()
	if err := judgeable(c.Name(), res); err != nil {
		return res, nil, err
	}
	at := func(tms float64) time.Time { return origin.Add(time.Duration(tms * float64(time.Millisecond))) }
	figs, err := c.figures(res, func(from, to float64) float64 { return ms(p.worstBetween(at(from), at(to))) })
	return res, figs, err
}

func judgeable(name string, res result.Scenario) error {
	if res.Error != "" {
		return fmt.Errorf("groundtruth: %s did not run: %s", name, res.Error)
	}
	for _, ch := range res.Checks {
		if ch.Failed() && (ch.Name == "valid-run" || ch.Name == "faults-applied") {
			return fmt.Errorf("groundtruth: %s: invalid run: %s", name, ch.Got)
		}
	}
	if len(res.Faults) != 1 {
		return fmt.Errorf("groundtruth: %s: %d fault windows recorded, want 1", name, len(res.Faults))
	}
	return nil
}

// Figure is one measured time against its true value, in ms. The truth is
// the interval [Lo, Hi] (Lo == Hi when it is known exactly); Tol is the
// stated allowance on either side.
type Figure struct {
	Name        string
	Got, Lo, Hi float64
	Tol         float64
	// Stall is the machine's longest stall during the figure's window, as a
	// timer probe measured it, times the number of timers the figure waits on
	// in turn. It is added to the allowance, because the truth assumes that
	// timers fire on time. 0 on a machine that keeps up.
	Stall float64
	// Why says where the truth comes from.
	Why string
}

// Exact reports whether the truth is a single value.
func (f Figure) Exact() bool { return f.Lo == f.Hi }

// Error is how far Got lies outside [Lo, Hi], signed: negative below.
func (f Figure) Error() float64 {
	switch {
	case f.Got < f.Lo:
		return f.Got - f.Lo
	case f.Got > f.Hi:
		return f.Got - f.Hi
	}
	return 0
}

// OK reports whether Got is within Tol, plus the machine's stall, of the
// truth.
func (f Figure) OK() bool { return math.Abs(f.Error()) <= f.Tol+f.Stall }

// Want is the truth and its allowance in words: "340.2 ± 59.0 ms",
// "[330.0, 350.0] ± 60.0 ms", or with a stall "99.0 ± (34.9 + stall 40.2) ms".
func (f Figure) Want() string {
	tol := fmt.Sprintf("%.1f", f.Tol)
	if f.Stall > 0 {
		tol = fmt.Sprintf("(%.1f + stall %.1f)", f.Tol, f.Stall)
	}
	if f.Exact() {
		return fmt.Sprintf("%.1f ± %s ms", f.Lo, tol)
	}
	return fmt.Sprintf("[%.1f, %.1f] ± %s ms", f.Lo, f.Hi, tol)
}

// Tolerance is the allowance on a true time of want ms at time scale k:
// 25 ms × k for scheduling (the race detector and a loaded 2-core machine
// delay timers and goroutines), plus 10% of the truth.
func Tolerance(want, k float64) float64 { return 25*k + want/10 }

// scaled is the configuration at one time scale.
type scaled struct{ k harness.Scale }

func (s scaled) d(x time.Duration) time.Duration { return s.k.D(x) }

// profile is the catalogue's, with jitter off so that the true retry
// instants follow from the configuration, a shorter close grace and a
// longer cap.
func (s scaled) profile() client.Options {
	o := scenarios.ProfileAt(float64(s.k))
	o.CloseGrace = s.d(50 * time.Millisecond)
	o.Backoff.Max, o.Backoff.Jitter, o.Backoff.NoJitter = s.d(2*time.Second), 0, true
	o.HintMax, o.AckDelay = 0, 0
	return o
}

// push is the fake server's push interval: the longest inbound silence on a
// healthy connection.
func (s scaled) push() time.Duration { return s.d(20 * time.Millisecond) }

func (s scaled) scenario(name string, f harness.Fault, check func(o client.Options) harness.Check) harness.Scenario {
	return harness.Scenario{
		Name:         name,
		Description:  "ground truth: " + f.Text,
		Client:       s.profile(),
		Server:       fakeserver.Options{PushInterval: s.push()},
		SendInterval: -1, // the pushes are the only inbound frames
		Faults:       []harness.Fault{f},
		Checks:       func(o client.Options) []harness.Check { return []harness.Check{check(o)} },
	}
}

// Cases returns the ground-truth cases with every duration multiplied by
// scale (use 3 under the race detector, as the scenarios package does).
func Cases(scale float64) []Case {
	s := scaled{k: harness.Scale(scale)}
	return []Case{s.blackHole(), s.proxyDown("ProxyDownShort", 200*time.Millisecond), s.proxyDown("ProxyDownLong", 500*time.Millisecond)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s scaled) blackHole() Case {
	o := s.profile()
	bound := o.PingInterval + o.PongTimeout
	sc := s.scenario("BlackHole", harness.BlackHole(s.d(300*time.Millisecond), s.d(600*time.Millisecond)),
		func(o client.Options) harness.Check { return harness.DetectSilenceWithin(harness.HeartbeatBound(o)) })
	return Case{Scenario: sc, figures: func(res result.Scenario, stalled func(from, to float64) float64) ([]Figure, error) {
		tl := timeline(res)
		m := tl.Measure("c1")
		det, silence := m.Detect(tl), m.DetectFromSilence()
		if det == nil || silence == nil {
			return nil, errors.New("groundtruth: BlackHole: the client never declared the connection lost")
		}
		start := tl.FaultStart()
		// The last inbound frame is the last push delivered before the
		// detection: no workload (so no acks) and no pings before the fault.
		last := math.NaN()
		for _, e := range tl.ClientEvents("c1") {
			if e.Kind == result.KindReceived && e.TMS <= *m.DetectedAt {
				last = e.TMS
			}
		}
		if math.IsNaN(last) {
			return nil, errors.New("groundtruth: BlackHole: no push delivered before the detection")
		}
		b, p := ms(bound), ms(s.push())
		exact := last + b - start
		stall := stalled(last, *m.DetectedAt) // one timer: the heartbeat
		return []Figure{
			{Name: "detect", Got: *det, Lo: b - p, Hi: b, Tol: Tolerance(b, float64(s.k)), Stall: stall,
				Why: fmt.Sprintf("PingInterval + PongTimeout %v after the last inbound frame, at most one push interval %v before the fault", bound, s.push())},
			{Name: "detect-exact", Got: *det, Lo: exact, Hi: exact, Tol: Tolerance(exact, float64(s.k)), Stall: stall,
				Why: fmt.Sprintf("PingInterval + PongTimeout %v after the last push delivered (%.1f ms), minus the fault start (%.1f ms)", bound, last, start)},
			{Name: "detect-from-silence", Got: *silence, Lo: b, Hi: b, Tol: Tolerance(b, float64(s.k)), Stall: stall,
				Why: fmt.Sprintf("PingInterval + PongTimeout %v after the last inbound frame, as the harness measures the silence", bound)},
		}, nil
	}}
}

// retryInstants are the NoJitter dial instants after a loss at 0: the sums
// of Backoff.Delay(1..n).
func retryInstants(b client.Backoff, upTo time.Duration) []time.Duration {
	var out []time.Duration
	var at time.Duration
	for n := 1; at <= upTo && n < 64; n++ {
		at += b.Delay(n, 0)
		out = append(out, at)
	}
	return out
}

func (s scaled) proxyDown(name string, outage time.Duration) Case {
	o := s.profile()
	sc := s.scenario(name, harness.ProxyDown(s.d(300*time.Millisecond), s.d(outage)),
		func(o client.Options) harness.Check {
			return harness.RecoverWithin(harness.NewBound(o.Backoff.Max, "one capped delay"))
		})
	return Case{Scenario: sc, figures: func(res result.Scenario, stalled func(from, to float64) float64) ([]Figure, error) {
		tl := timeline(res)
		m := tl.Measure("c1")
		det, rec := m.Detect(tl), m.Recover(tl)
		if det == nil || rec == nil {
			return nil, fmt.Errorf("groundtruth: %s: detection or recovery not measured", name)
		}
		// The retry instants count from the loss, which the FIN makes
		// immediate: from the fault start. The first at or after the fault
		// end (as recorded, so the Toxiproxy call's own time is not counted
		// as error) is the dial that succeeds.
		window := time.Duration((tl.FaultEnd() - tl.FaultStart()) * float64(time.Millisecond))
		var first time.Duration
		for _, at := range retryInstants(o.Backoff, window+o.Backoff.Max) {
			if at >= window {
				first = at
				break
			}
		}
		want := ms(first - window)
		// The recovery waits on each retry's timer in turn, then on the
		// handshake.
		steps := 1.0
		for _, at := range retryInstants(o.Backoff, first) {
			if at <= first {
				steps++
			}
		}
		return []Figure{
			{Name: "detect", Got: *det, Lo: 0, Hi: 0, Tol: Tolerance(0, float64(s.k)), Stall: stalled(res.Faults[0].IssuedMS, *m.DetectedAt),
				Why: "the proxy closes the connection with FIN: a reader error, at once"},
			{Name: "recover", Got: *rec, Lo: want, Hi: want, Tol: Tolerance(want, float64(s.k)), Stall: steps * stalled(tl.FaultStart(), *m.RecoveredAt),
				Why: fmt.Sprintf("retries at %v after the fault start (Initial %v, ×2, no jitter); the first at or after the %v outage is at %v",
					retryInstants(o.Backoff, window), o.Backoff.Initial, window.Round(time.Millisecond), first)},
		}, nil
	}}
}

func timeline(res result.Scenario) *harness.Timeline {
	return &harness.Timeline{Events: res.Timeline, Faults: res.Faults, Clients: []string{"c1"}}
}

// Errors returns |got - truth| of every exact figure, in ms: the harness's
// measurement error.
func Errors(figs []Figure) []float64 {
	var out []float64
	for _, f := range figs {
		if f.Exact() {
			out = append(out, math.Abs(f.Error()))
		}
	}
	return out
}
