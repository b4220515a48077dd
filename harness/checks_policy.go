package harness

import (
	"fmt"
	"math"
	"time"

	"github.com/wschaos/wschaos/result"
)

// clientVerdict is one client's part of a per-client check: its figure for
// people, and why it misses the target ("" when it meets it). judged is
// false when the client gave the check nothing to judge.
type clientVerdict struct {
	got, bad string
	judged   bool
}

func judgedOK(got string) clientVerdict       { return clientVerdict{got: got, judged: true} }
func judgedBad(got, bad string) clientVerdict { return clientVerdict{got: got, bad: bad, judged: true} }
func nothingToJudge(why string) clientVerdict { return clientVerdict{got: why} }
func judgedIf(got, bad string, ok bool) clientVerdict {
	if ok {
		return judgedOK(got)
	}
	return judgedBad(got, bad)
}

// perClient builds a check that holds every client to t and reports the
// clients that miss it; with no client to judge it is n/a.
func perClient(t result.Target, eval func(tl *Timeline, id string) clientVerdict) Check {
	return Check{Target: t, Eval: func(tl *Timeline) result.Check {
		var gots, bads, skipped []string
		judged := 0
		for _, id := range tl.Clients {
			v := eval(tl, id)
			if !v.judged {
				skipped = append(skipped, id+": "+v.got)
				continue
			}
			judged++
			gots = append(gots, v.got)
			if v.bad != "" {
				bads = append(bads, id+": "+v.bad)
			}
		}
		if judged == 0 {
			why := "no client ran"
			if len(skipped) > 0 {
				why = abbrev(skipped)
			}
			return tl.viaWire(NotApplicable(t, why))
		}
		return tl.viaWire(Verdict(t, len(bads) == 0, abbrev(uniq(gots)), nil, abbrev(bads)))
	}}
}

// hasStatus reports whether e carries code as its close code or its HTTP
// status (close codes are 1000-4999, statuses 100-599: they never clash).
func hasStatus(e result.Event, code int) bool {
	return int(e.Code) == code || e.Status == code
}

// WaitsAtLeastHint requires that after every loss with the given code (a
// close code, or the HTTP status of a refused upgrade) the client's next dial
// comes at least hint later. Clients that never saw the code are not held to
// it; when no client did, or none retried, the check fails: the scenario
// exists to see the wait. A wait read off the wire gets AtOnce of slack
// for the client's teardown, which the wire cannot see.
func WaitsAtLeastHint(code int, hint time.Duration, why string) Check {
	limit := ms(hint)
	t := result.Target{Name: "waits-hint", Want: fmt.Sprintf(">= %s after %d", fmtMS(limit), code), Limit: limit, Unit: result.UnitMS,
		Bound: limit, Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) result.Check {
		shortest, seen := math.Inf(1), 0
		var bad []string
		for _, id := range tl.Clients {
			evs := tl.ClientEvents(id)
			for i, e := range evs {
				if e.Kind != result.KindDisconnected || !hasStatus(e, code) {
					continue
				}
				for _, next := range evs[i+1:] {
					if next.Kind == result.KindDialing {
						seen++
						gap := next.TMS - e.TMS
						shortest = math.Min(shortest, gap)
						if gap+wireTeardown(e) < limit {
							bad = append(bad, fmt.Sprintf("%s: retried %s after %d, %s too early", id, fmtMS(gap), code, fmtMS(limit-gap)))
						}
						break
					}
				}
			}
		}
		var c result.Check
		switch {
		case seen == 0:
			c = Verdict(t, false, fmt.Sprintf("no retry after %d", code), nil, fmt.Sprintf("never saw a loss with %d followed by a dial", code))
		case len(bad) > 0:
			c = Verdict(t, false, "waited "+fmtMS(shortest), ptr(shortest), abbrev(bad))
		default:
			margin := fmtMS(shortest-limit) + " over the hint"
			if shortest < limit {
				margin = fmt.Sprintf("%s under the hint as the wire saw it, within its %s for the client's teardown", fmtMS(limit-shortest), fmtMS(ms(AtOnce)))
			}
			c = Verdict(t, true, fmt.Sprintf("waited at least %s (%d retries)", fmtMS(shortest), seen), ptr(shortest), margin)
		}
		return tl.viaWire(c)
	}}
}

// wireTeardown is how much shorter than the client's own wait an outside
// client's wait can look on the wire: the wire sees the socket close, and
// the client may start its timer when it reads the server's close, a
// moment before its socket is gone (a fixed 1 s delay in Node.js reads
// 998 ms on the tap). Nothing for a client's own events.
func wireTeardown(e result.Event) float64 {
	if e.Via == result.ViaWire {
		return ms(AtOnce)
	}
	return 0
}

// MaxAttempts bounds the connection attempts from the fault start to
// recovery (or to the end of the run) per client: no hot loop.
func MaxAttempts(n int, why string) Check {
	t := result.Target{Name: "attempts", Want: fmt.Sprintf("<= %d", n), Limit: float64(n), Unit: result.UnitCount, Bound: float64(n), Why: why}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		m := tl.Measure(id)
		return judgedIf(fmt.Sprintf("%d attempts", m.Attempts), fmt.Sprintf("%d attempts, %d over", m.Attempts, m.Attempts-n), m.Attempts <= n)
	})
}

// StopsOnFatal requires the client to stop for good after the fault: a fatal
// event with the given code (close code or HTTP status) and no dial after it.
func StopsOnFatal(code int, why string) Check {
	t := result.Target{Name: "no-retry-after-fatal", Want: fmt.Sprintf("fatal %d, 0 dials after", code), Unit: result.UnitCount, Why: why}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		if tl.Outside(id) {
			return stopsFromWire(tl, id, code)
		}
		evs := tl.ClientEvents(id)
		fatalAt := -1
		for i, e := range evs {
			if e.Kind == result.KindFatal {
				fatalAt = i
				break
			}
		}
		from := fatalAt
		if fatalAt < 0 {
			// No fatal stop: count the dials after the fault started.
			from = len(evs)
			for i, e := range evs {
				if e.TMS >= tl.FaultStart() {
					from = i
					break
				}
			}
		}
		dials := 0
		for _, e := range evs[from:] {
			if e.Kind == result.KindDialing {
				dials++
			}
		}
		if fatalAt < 0 {
			return judgedBad(fmt.Sprintf("no fatal stop, %d dials", dials), fmt.Sprintf("kept retrying (%d dials) instead of stopping on %d", dials, code))
		}
		f := evs[fatalAt]
		got := fmt.Sprintf("fatal %d, %d dials after", max(int(f.Code), f.Status), dials)
		switch {
		case !hasStatus(f, code):
			return judgedBad(got, fmt.Sprintf("stopped on %d, want %d", max(int(f.Code), f.Status), code))
		case dials > 0:
			return judgedBad(got, fmt.Sprintf("%d dials after the fatal stop", dials))
		}
		return judgedOK(got)
	})
}

// stopsFromWire is StopsOnFatal for an outside client, which cannot say it
// stopped: after the first loss on which the server sent code, the wire must
// show no dial.
func stopsFromWire(tl *Timeline, id string, code int) clientVerdict {
	evs := tl.ClientEvents(id)
	for i, e := range evs {
		if e.Kind != result.KindDisconnected || !hasStatus(e, code) || e.TMS < tl.faultIssued() {
			continue
		}
		dials := 0
		for _, next := range evs[i+1:] {
			if next.Kind == result.KindDialing {
				dials++
			}
		}
		return judgedIf(fmt.Sprintf("%d dials after %d", dials, code),
			fmt.Sprintf("kept dialling (%d dials) after the server's %d", dials, code), dials == 0)
	}
	return judgedBad("no loss with "+fmt.Sprint(code), fmt.Sprintf("the wire shows no connection ended by the server's %d", code))
}

// DelaysWithinPolicy requires every backoff delay to lie inside the policy
// envelope for its attempt, or at or above the hint it honoured. With no
// delay taken it has nothing to judge.
func DelaysWithinPolicy(why string) Check {
	t := result.Target{Name: "delays-in-policy", Want: "every delay inside Backoff.Envelope(attempt)", Why: why}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		n := 0
		for _, e := range tl.ClientEvents(id) {
			if e.Kind != result.KindBackoff {
				continue
			}
			n++
			d := tl.delayOf(e)
			if d.InPolicy {
				continue
			}
			if d.HintMS > 0 {
				return judgedBad(fmt.Sprintf("%d delays", n), fmt.Sprintf("attempt %d: %s is below the hint %s", d.Attempt, fmtMS(d.DelayMS), fmtMS(d.HintMS)))
			}
			return judgedBad(fmt.Sprintf("%d delays", n), fmt.Sprintf("attempt %d: %s outside [%s, %s]", d.Attempt, fmtMS(d.DelayMS), fmtMS(d.LoMS), fmtMS(d.HiMS)))
		}
		if n == 0 {
			return nothingToJudge("no backoff delay taken")
		}
		return judgedOK(fmt.Sprintf("%d delays", n))
	})
}

// BackoffNotReset requires that a connection which stayed ready for less than
// MinHealthyUptime does not reset the attempt counter: a flapping server must
// not be able to turn backoff into a hot loop. With no short connection it
// has nothing to judge.
func BackoffNotReset(why string) Check {
	t := result.Target{Name: "backoff-not-reset", Want: "attempts keep counting across short connections", Why: why}
	return outsideNA("the attempt counter is inside the client; the wire shows only the delays (delays-in-policy judges those)", perClient(t,
		func(tl *Timeline, id string) clientVerdict {
			minUp := ms(tl.Options.MinHealthyUptime)
			readyAt, upFor := math.NaN(), math.Inf(1)
			prev, resets, short := 0, 0, 0
			for _, e := range tl.ClientEvents(id) {
				switch e.Kind {
				case result.KindReady:
					readyAt = e.TMS
				case result.KindDisconnected:
					if !isNaN(readyAt) {
						upFor = e.TMS - readyAt
						readyAt = math.NaN()
					}
				case result.KindBackoff:
					if upFor < minUp {
						short++
						if e.Attempt <= prev {
							resets++
						}
					}
					prev, upFor = e.Attempt, math.Inf(1)
				}
			}
			got := fmt.Sprintf("%d resets after %d short connections", resets, short)
			if short == 0 {
				return nothingToJudge("no connection shorter than MinHealthyUptime")
			}
			return judgedIf(got, fmt.Sprintf("attempt counter reset %d times after connections shorter than %s", resets, fmtMS(minUp)), resets == 0)
		}))
}

// outsideNA makes c not applicable when the client under test is an outside
// program, for the reason why.
func outsideNA(why string, c Check) Check {
	eval := c.Eval
	c.Eval = func(tl *Timeline) result.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return NotApplicable(c.Target, abbrev(out)+": outside client; "+why)
		}
		return eval(tl)
	}
	return c
}

// HerdSpread requires the clients' first dials after the fault end to be
// spread out: no window of the given width holds more than twice its share,
// where the share is the clients spread evenly over the jitter range the
// policy promises (spread), and never more than half the clients, whatever
// the policy: a policy with little or no jitter promises a herd, and a
// limit of every client in one window could not fail. With no dial after
// the fault it has nothing to judge.
func HerdSpread(window, spread time.Duration, why string) Check {
	t := result.Target{Name: "herd-spread", Want: fmt.Sprintf("<= 2x an even share per %v", window), Unit: result.UnitCount, Why: why}
	c := Check{Target: t, window: window}
	c.Eval = func(tl *Timeline) result.Check {
		n := len(tl.Clients)
		windows := max(float64(spread)/float64(window), 1)
		limit := min(math.Ceil(2*float64(n)/windows), max(math.Ceil(float64(n)/2), 1))
		tt := t
		tt.Want, tt.Limit, tt.Bound = fmt.Sprintf("<= %.0f per %v", limit, window), limit, limit
		first, _ := tl.dials()
		if len(first) == 0 {
			return NotApplicable(tt, "no client dialled after the fault ended")
		}
		worst, at := 0, 0
		for _, b := range buckets(first, tl.FaultEnd(), ms(window)) {
			if b.Count > worst {
				worst, at = b.Count, b.Index
			}
		}
		margin := ""
		if float64(worst) > limit {
			margin = fmt.Sprintf("%d clients in one %v window; the policy spreads them over %v", worst, window, spread)
		}
		return tl.viaWire(Verdict(tt, float64(worst) <= limit,
			fmt.Sprintf("%d in one window (+%v), %d clients dialled", worst, time.Duration(at)*window, len(first)), ptr(float64(worst)), margin))
	}
	return c
}

// StableAfterRecovery requires every client to stay connected once it has
// recovered: no disconnect after the recovery moment. A client that never
// recovered gives it nothing to judge (the recover check fails it).
func StableAfterRecovery(why string) Check {
	t := result.Target{Name: "stable", Want: "0 disconnects after recovery", Unit: result.UnitCount, Why: why}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		m := tl.Measure(id)
		if m.RecoveredAt == nil {
			return nothingToJudge("never recovered")
		}
		lost := 0
		var at []string
		for _, e := range tl.ClientEvents(id) {
			if e.Kind == result.KindDisconnected && e.TMS > *m.RecoveredAt {
				lost++
				at = append(at, fmt.Sprintf("%s at %s", e.Cause, fmtMS(e.TMS)))
			}
		}
		return judgedIf(fmt.Sprintf("%d disconnects", lost), "lost again: "+abbrev(at), lost == 0)
	})
}

// RedialWithin requires every client's first dial after the fault start to
// come within b: a client must not wait on a peer that is gone.
func RedialWithin(b Bound) Check {
	return budgetCheck("redial", b, func(tl *Timeline, m ClientMeasure) *float64 {
		for _, e := range tl.ClientEvents(m.Client) {
			if e.Kind == result.KindDialing && e.TMS >= tl.FaultStart() {
				return ptr(e.TMS - tl.FaultStart())
			}
		}
		return nil
	})
}

// GivesUpWithin requires that every loss with the given cause (such as
// result.CauseHandshakeTimeout) comes at most b after the dial it ended,
// and that there was at least one.
func GivesUpWithin(cause result.Cause, b Bound) Check {
	t := timeTarget("gives-up", b)
	t.Want = fmt.Sprintf("%s within %s of the dial", cause, fmtMS(t.Limit))
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		dialAt, longest, seen := math.NaN(), 0.0, 0
		for _, e := range tl.ClientEvents(id) {
			switch e.Kind {
			case result.KindDialing:
				dialAt = e.TMS
			case result.KindDisconnected:
				if e.Cause == cause && !isNaN(dialAt) {
					seen++
					longest = math.Max(longest, e.TMS-dialAt)
				}
			}
		}
		if seen == 0 {
			return judgedBad("never", fmt.Sprintf("no %s seen", cause))
		}
		return judgedIf(fmt.Sprintf("%d, longest %s", seen, fmtMS(longest)),
			fmt.Sprintf("held on %s, %s too long", fmtMS(longest), fmtMS(longest-t.Limit)), longest <= t.Limit)
	})
}

// SpreadAtCap requires the backoff delays taken at the cap to differ from one
// another: jitter applied after the cap keeps clients apart during a long
// outage, where most libraries let them all wait exactly the cap. With
// fewer than two delays at the cap it has nothing to judge.
func SpreadAtCap(why string) Check {
	t := result.Target{Name: "spread-at-cap", Want: "delays at the cap not all equal", Why: why}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		capMS := ms(tl.Options.Backoff.Max)
		var at []float64
		for _, e := range tl.ClientEvents(id) {
			if e.Kind != result.KindBackoff || e.HintMS > 0 {
				continue
			}
			if _, hi := tl.Options.Backoff.Envelope(max(e.Attempt, 1)); ms(hi) >= capMS {
				at = append(at, e.DelayMS)
			}
		}
		if len(at) < 2 {
			return nothingToJudge(fmt.Sprintf("%d delays reached the cap: the outage was too short to tell", len(at)))
		}
		lo, hi := at[0], at[0]
		for _, d := range at {
			lo, hi = math.Min(lo, d), math.Max(hi, d)
		}
		// Delays seen on the wire vary by scheduling alone: a fixed delay
		// must not pass as jitter.
		least := 1.0
		if tl.Outside(id) {
			least = ms(wireSlack) / 4
		}
		return judgedIf(fmt.Sprintf("%d at the cap, %s..%s", len(at), fmtMS(lo), fmtMS(hi)),
			"every delay at the cap is the same: clients would come back together", hi-lo >= least)
	})
}

// RedialAfterLossWithin requires every client's first dial after it declared
// the connection lost to come within b of that moment: teardown must not
// wait on a dead peer beyond the client's close grace.
func RedialAfterLossWithin(b Bound) Check {
	c := budgetCheck("redial-after-loss", b, func(tl *Timeline, m ClientMeasure) *float64 {
		if m.DetectedAt == nil {
			return nil
		}
		for _, e := range tl.ClientEvents(m.Client) {
			if e.Kind == result.KindDialing && e.TMS >= *m.DetectedAt {
				return ptr(e.TMS - *m.DetectedAt)
			}
		}
		return nil
	})
	c.Target.From = result.FromLoss
	return c
}
