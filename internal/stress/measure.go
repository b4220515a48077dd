package stress

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/reports"
)

// windowMS is the width of the herd windows.
const windowMS = 100

// results folds what the run recorded into the aggregates and the result
// scenario. It runs after every worker has stopped.
func (c *coord) results() reports.Scenario {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.eff
	n := c.opts.Clients
	st := Stats{Clients: n, Workers: len(c.workers), InProcess: c.opts.InProcess, Timescale: c.opts.Timescale,
		Seed: c.opts.Seed, DurationMS: msOf(c.opts.Duration), Profile: profileText(o, c.opts.Timescale), Faults: []FaultStats{}}
	res := reports.Scenario{
		Name:   ScenarioName,
		Client: "reference",
		Description: fmt.Sprintf("%s over %s; a seeded schedule of %s over %v at time scale %g (seed %d). "+
			"Every fault hits every client at once, and waits until every client is ready again after the previous one; targets are p99 over the clients, derived from the profile (%s) plus a herd allowance of %v; recovery is held to the stress goal, the backoff cap plus the allowance. "+
			"The timeline shows the faults and client c1 only.",
			plural(n, "reference client"), plural(st.Workers, "worker"), plural(len(c.sched.Faults), "mass fault"),
			c.opts.Duration, c.opts.Timescale, c.opts.Seed, st.Profile, HerdAllowance),
		Faults: slices.Clone(c.windows), Targets: []reports.Target{}, Checks: []reports.Check{}, Timeline: slices.Clone(c.harness),
	}
	if res.Faults == nil {
		res.Faults = []reports.Fault{}
	}
	for _, cs := range c.clients[1:] {
		sort.SliceStable(cs.events, func(i, j int) bool { return cs.events[i].TMS < cs.events[j].TMS })
	}
	if len(c.clients) > 1 {
		res.Timeline = append(res.Timeline, c.clients[1].events...)
		sort.SliceStable(res.Timeline, func(i, j int) bool { return res.Timeline[i].TMS < res.Timeline[j].TMS })
	}
	add := func(t reports.Target, ch reports.Check) {
		res.Targets = append(res.Targets, t)
		res.Checks = append(res.Checks, ch)
	}

	// Validity first: a run that never warmed up, or whose faults or workers
	// went wrong, proves nothing.
	warm := reports.Check{Name: "warm-up", OK: c.warmOK, Want: fmt.Sprintf("%d clients ready with traffic both ways", n)}
	warm.Got = "all warm"
	if !c.warmOK {
		warm.Got = "not all warm"
	}
	add(reports.Target{Name: warm.Name, Want: warm.Want, Limit: float64(n)}, warm)
	fa := reports.Check{Name: "faults-applied", Want: fmt.Sprint(len(c.sched.Faults)), Got: fmt.Sprintf("%d of %d", len(c.windows), len(c.sched.Faults))}
	fa.OK = len(c.windows) == len(c.sched.Faults)
	add(reports.Target{Name: fa.Name, Want: fa.Want, Limit: float64(len(c.sched.Faults))}, fa)
	wk := reports.Check{Name: "workers", OK: len(c.errs) == 0, Want: "every worker ran to the end, every line well-formed", Got: "ok"}
	if len(c.errs) > 0 {
		wk.Got = fmt.Sprintf("%d problems", len(c.errs))
		wk.Margin = clip(strings.Join(c.errs, "; "), 600)
	}
	add(reports.Target{Name: wk.Name, Want: wk.Want}, wk)

	var worstDetect, worstRecover *float64
	maxAttempts := 0
	for i, w := range c.windows {
		if i >= len(c.sched.Faults) {
			break
		}
		p := c.sched.Faults[i]
		next := math.Inf(1)
		if i+1 < len(c.windows) {
			next = issuedAt(c.windows[i+1])
		}
		fs, firstDials := c.faultStats(w, next, p.For == 0)
		st.Faults = append(st.Faults, fs)
		label := fmt.Sprintf("f%d-%s", i+1, w.Kind)
		b := p.asApplied(w).Bounds(o, n)
		if !b.Disconnects {
			ch := reports.Check{Name: label + "-no-reconnect", Want: "0 disconnects", OK: fs.Disconnected == 0,
				Got: fmt.Sprintf("%d of %d clients disconnected", fs.Disconnected, n)}
			add(reports.Target{Name: ch.Name, Want: ch.Want, Why: b.RecoverWhy}, ch)
			continue
		}
		add(p99Check(label+"-detect", fs.Detect, fs.Disconnected, n, b.Detect, b.DetectWhy, "detected"))
		if b.Redial > 0 {
			add(p99Check(label+"-redial", fs.Redial, fs.Redial.N, n, b.Redial, b.RedialWhy, "dialled again"))
		}
		add(p99Check(label+"-recover", fs.Recover, fs.Recovered, n, b.Recover, b.RecoverWhy, "recovered"))
		at := reports.Check{Name: label + "-attempts", Want: fmt.Sprintf("<= %d per client", b.Attempts),
			OK: int(fs.Attempts.Max) <= b.Attempts, Got: fmt.Sprintf("max %d, p99 %d", int(fs.Attempts.Max), int(fs.Attempts.P99))}
		if !at.OK {
			at.Margin = fmt.Sprintf("%d over", int(fs.Attempts.Max)-b.Attempts)
		}
		add(reports.Target{Name: at.Name, Want: at.Want, Limit: float64(b.Attempts), Why: "each retry waits at least its shortest delay: no hot loop"}, at)
		add(herdCheck(label+"-herd-spread", firstDials, n, b.Spread, o.Backoff.Jitter))
		if fs.Detect.N > 0 {
			worstDetect = maxPtr(worstDetect, fs.Detect.Max)
		}
		if fs.Recover.N > 0 {
			worstRecover = maxPtr(worstRecover, fs.Recover.Max)
		}
		maxAttempts = max(maxAttempts, int(fs.Attempts.Max))
	}

	// Continuity over the whole run, both ways.
	for _, cs := range c.clients[1:] {
		st.Up = addFlow(st.Up, flowOf(&cs.upSent, &cs.srv.upGot, 0, false))
		st.Down = addFlow(st.Down, flowOf(&cs.srv.downSent, &cs.downGot, cs.gap, true))
		st.Reconnects += max(cs.readies-1, 0)
	}
	cont := reports.Check{Name: "continuity", Want: "lost 0, duplicated 0, reordered 0, both ways",
		Got: fmt.Sprintf("up: %d sent, %d delivered, %d lost, %d dup, %d reordered; down: %d sent, %d delivered, %d lost, %d dup, %d reordered",
			st.Up.Sent, st.Up.Delivered, st.Up.Lost, st.Up.Duplicated, st.Up.Reordered,
			st.Down.Sent, st.Down.Delivered, st.Down.Lost, st.Down.Duplicated, st.Down.Reordered)}
	cont.OK = st.Up.Lost+st.Up.Duplicated+st.Up.Reordered+st.Down.Lost+st.Down.Duplicated+st.Down.Reordered == 0 &&
		st.Up.Delivered > 0 && st.Down.Delivered > 0
	add(reports.Target{Name: cont.Name, Want: cont.Want,
		Why: "unacknowledged messages are resent, the session resumes from the last sequence received, duplicates are dropped"}, cont)

	add(c.delaysCheck())
	fatal := 0
	for _, cs := range c.clients[1:] {
		if cs.fatal {
			fatal++
		}
	}
	fc := reports.Check{Name: "no-fatal", Want: "0 clients stopped", OK: fatal == 0, Got: fmt.Sprintf("%d clients stopped fatally", fatal)}
	add(reports.Target{Name: fc.Name, Want: fc.Want, Why: "every fault in the schedule is retryable"}, fc)

	st.Resources = append(st.Resources, c.coordRes)
	for w := 1; w <= len(c.workers); w++ {
		if r, ok := c.res[w]; ok {
			st.Resources = append(st.Resources, r)
		}
	}
	res.Measured = reports.Measured{DetectMS: worstDetect, RecoverMS: worstRecover, Attempts: maxAttempts, Reconnects: st.Reconnects}
	res.Verdict = reports.Pass
	for _, ch := range res.Checks {
		if !ch.OK {
			res.Verdict = reports.Fail
		}
	}
	res.Stress = &st
	return res
}

// plural is "1 worker" or "2 workers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func issuedAt(f reports.Fault) float64 {
	if f.IssuedMS > 0 && f.IssuedMS < f.StartMS {
		return f.IssuedMS
	}
	return f.StartMS
}

// asApplied is p with the outage it really caused: from the moment the
// harness issued the fault to the moment its end took effect. With
// thousands of connections, disabling a proxy or stopping a server takes
// seconds, during which clients are already cut off, so their backoff runs
// further than the planned duration alone allows.
func (p Planned) asApplied(w reports.Fault) Planned {
	if p.For == 0 {
		return p
	}
	if real := time.Duration((w.EndMS - issuedAt(w)) * float64(time.Millisecond)); real > p.For {
		p.For = real
	}
	return p
}

// faultStats measures every client against one fault with
// harness.Timeline.Measure, on the client's events from the fault's issue
// to the next fault's. It returns the first dials after the fault end too.
//
// An instant fault (a close or a drop: no end step) ends for each client
// when it hits that client. With thousands of connections the step takes
// a second or more to return, and measuring from its return would hide the
// recovery of the clients it hit first: each client's recovery and redial
// run from the earlier of the recorded end and its own loss.
func (c *coord) faultStats(w reports.Fault, next float64, instant bool) (FaultStats, []float64) {
	fs := FaultStats{Kind: w.Kind, Detail: w.Detail, StartMS: w.StartMS, EndMS: w.EndMS}
	from := issuedAt(w)
	var detect, redial, recov, attempts, readies, firstDials []float64
	for i, cs := range c.clients[1:] {
		id := "c" + fmt.Sprint(i+1)
		lo := sort.Search(len(cs.events), func(k int) bool { return cs.events[k].TMS >= from })
		hi := sort.Search(len(cs.events), func(k int) bool { return cs.events[k].TMS >= next })
		tl := &h.Timeline{Events: cs.events[lo:hi], Faults: []reports.Fault{w}, Clients: []string{id}, Options: c.eff}
		m := tl.Measure(id)
		if instant && m.DetectedAt != nil && *m.DetectedAt < w.EndMS {
			own := w
			own.EndMS = *m.DetectedAt
			own.StartMS = min(own.StartMS, own.EndMS)
			tl.Faults = []reports.Fault{own}
			m = tl.Measure(id)
		}
		if d := m.Detect(tl); d != nil {
			fs.Disconnected++
			detect = append(detect, *d)
		} else if m.Disconnects > 0 {
			fs.Disconnected++
		}
		if r := m.Recover(tl); r != nil {
			fs.Recovered++
			recov = append(recov, *r)
			attempts = append(attempts, float64(m.Attempts))
		} else if m.Attempts > 0 {
			attempts = append(attempts, float64(m.Attempts))
		}
		if r := redialAfter(tl, m); r != nil {
			redial = append(redial, *r)
		}
		first := true
		for _, e := range tl.Events {
			if e.TMS < w.EndMS {
				continue
			}
			switch client.EventKind(e.Kind) {
			case client.EventReady:
				readies = append(readies, e.TMS)
			case client.EventDialing:
				if first {
					firstDials = append(firstDials, e.TMS)
					first = false
				}
			}
		}
	}
	fs.Detect, fs.Redial, fs.Recover, fs.Attempts = Distribute(detect), Distribute(redial), Distribute(recov), Distribute(attempts)
	fs.RecoverCDF = CDF(recov, 50)
	fs.ReconnectsPer100ms = Histogram(readies, w.EndMS, windowMS, 200)
	fs.FirstDialsPer100ms = Histogram(firstDials, w.EndMS, windowMS, 200)
	return fs, firstDials
}

// redialAfter is the client's own part of a recovery: the wait from the
// later of the fault end and the moment it declared the connection lost to
// its next dial. A client that is connected or dialling at that moment (a
// dial that goes on to connect) was not waiting: 0. It is nil for a client
// that did not lose the connection or never dialled again.
func redialAfter(tl *h.Timeline, m h.ClientMeasure) *float64 {
	if m.DetectedAt == nil {
		return nil
	}
	from := math.Max(tl.FaultEnd(), *m.DetectedAt)
	zero := 0.0
	// dialing: a dial started before from and not ended; up: connected
	// after the loss and before from, and not lost again.
	dialing, up := false, false
	for _, e := range tl.Events {
		if e.TMS >= from && up {
			return &zero
		}
		switch client.EventKind(e.Kind) {
		case client.EventDialing:
			if e.TMS >= from {
				d := e.TMS - from
				return &d
			}
			dialing = true
		case client.EventConnected:
			if dialing && e.TMS >= from {
				return &zero
			}
			dialing, up = false, e.TMS >= *m.DetectedAt
		case client.EventDisconnected:
			dialing, up = false, false
		}
	}
	if up {
		return &zero
	}
	return nil
}

// p99Check holds a distribution's 99th percentile against bound, and
// requires every client to have the figure.
func p99Check(name string, d Distribution, have, n int, bound time.Duration, why, verb string) (reports.Target, reports.Check) {
	limit := msOf(bound)
	t := reports.Target{Name: name, Want: fmt.Sprintf("p99 <= %.0f ms, all %d clients", limit, n), Limit: limit, Why: why}
	ch := reports.Check{Name: name, Want: t.Want, OK: true}
	ch.Got = fmt.Sprintf("p50 %.0f, p90 %.0f, p99 %.0f, max %.0f ms; %d of %d %s", d.P50, d.P90, d.P99, d.Max, have, n, verb)
	switch {
	case have < n:
		ch.OK = false
		ch.Margin = fmt.Sprintf("%d clients never %s", n-have, verb)
	case d.P99 > limit:
		ch.OK = false
		ch.Margin = fmt.Sprintf("p99 missed by %.0f ms", d.P99-limit)
	default:
		ch.Margin = fmt.Sprintf("p99 %.0f ms of a %.0f ms budget", d.P99, limit)
	}
	return t, ch
}

// herdShare is how many times its even share of the clients one window may
// hold. The catalogue's HerdSpread allows twice; here it is three times,
// because the retry timers running when an outage ends were armed at
// different moments during it, so the first dials after it are not even
// over the jitter range (at 300 and 1,000 clients a correct client peaked
// at 2.25 times). A client without jitter puts every client in one window.
const herdShare = 3

// herdCheck is harness.HerdSpread over the first dials after a fault: no
// 100 ms window holds more than herdShare times its share of the clients
// spread over the jitter range the policy promises.
func herdCheck(name string, firstDials []float64, n int, spread time.Duration, jitter float64) (reports.Target, reports.Check) {
	windows := max(float64(spread)/float64(windowMS*time.Millisecond), 1)
	limit := int(math.Ceil(herdShare * float64(n) / windows))
	t := reports.Target{Name: name, Want: fmt.Sprintf("<= %d first dials per %d ms", limit, windowMS), Limit: float64(limit),
		Why: fmt.Sprintf("jitter %.0f%% of the pending delay spreads the herd over %v; at most %d times the even share per window", 100*jitter, spread, herdShare)}
	counts := map[int]int{}
	lo := math.Inf(1)
	for _, d := range firstDials {
		lo = math.Min(lo, d)
	}
	worst := 0
	for _, d := range firstDials {
		k := int((d - lo) / windowMS)
		counts[k]++
		worst = max(worst, counts[k])
	}
	ch := reports.Check{Name: name, Want: t.Want, OK: worst <= limit && len(firstDials) > 0,
		Got: fmt.Sprintf("%d in the busiest window, %d clients dialled", worst, len(firstDials))}
	if !ch.OK {
		ch.Margin = fmt.Sprintf("%d clients in one window; the policy spreads them over %v", worst, spread)
	}
	return t, ch
}

// delaysCheck is harness.DelaysWithinPolicy over every client's backoff
// delays.
func (c *coord) delaysCheck() (reports.Target, reports.Check) {
	t := reports.Target{Name: "delays-in-policy", Want: "every delay inside Backoff.Envelope(attempt)", Why: "jitter after the cap, never 0"}
	ch := reports.Check{Name: t.Name, Want: t.Want, OK: true}
	total := 0
	var bad []string
	for i, cs := range c.clients[1:] {
		for _, e := range cs.events {
			if e.Kind != string(client.EventBackoff) {
				continue
			}
			total++
			if e.HintMS > 0 {
				if e.DelayMS+0.5 < e.HintMS {
					bad = append(bad, fmt.Sprintf("c%d attempt %d: %.0f ms below the hint %.0f ms", i+1, e.Attempt, e.DelayMS, e.HintMS))
				}
				continue
			}
			lo, hi := c.eff.Backoff.Envelope(max(e.Attempt, 1))
			if e.DelayMS+0.5 < msOf(lo) || e.DelayMS-0.5 > msOf(hi) || e.DelayMS <= 0 {
				bad = append(bad, fmt.Sprintf("c%d attempt %d: %.0f ms outside [%.0f, %.0f]", i+1, e.Attempt, e.DelayMS, msOf(lo), msOf(hi)))
			}
		}
	}
	ch.Got = fmt.Sprintf("%d delays, %d outside", total, len(bad))
	if len(bad) > 0 {
		ch.OK = false
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
		}
		ch.Margin = strings.Join(bad, "; ")
	}
	return t, ch
}

func addFlow(a, b Flow) Flow {
	return Flow{Sent: a.Sent + b.Sent, Delivered: a.Delivered + b.Delivered, Lost: a.Lost + b.Lost,
		Duplicated: a.Duplicated + b.Duplicated, Reordered: a.Reordered + b.Reordered, Gap: a.Gap + b.Gap}
}

func maxPtr(cur *float64, v float64) *float64 {
	if cur == nil || v > *cur {
		return &v
	}
	return cur
}

func profileText(o client.Options, k float64) string {
	return fmt.Sprintf("PingInterval %v, PongTimeout %v, HandshakeTimeout %v, Backoff %v..%v x%g jitter %.0f%%, MinHealthyUptime %v, push and send every %v",
		o.PingInterval, o.PongTimeout, o.HandshakeTimeout, o.Backoff.Initial, o.Backoff.Max, o.Backoff.Multiplier, 100*o.Backoff.Jitter,
		o.MinHealthyUptime, time.Duration(float64(basePush)*k))
}
