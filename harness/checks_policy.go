package harness

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/reports"
)

// perClient builds a check that holds every client to want and reports the
// first client that misses it. eval returns the client's figure as text and
// an empty string when it is fine, or the reason it is not.
func perClient(name, want string, limit float64, why string, eval func(tl *Timeline, id string) (got, bad string)) Check {
	t := reports.Target{Name: name, Want: want, Limit: limit, Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		c := reports.Check{Name: name, Want: want, OK: true}
		var gots, bads []string
		for _, id := range tl.Clients {
			got, bad := eval(tl, id)
			gots = append(gots, got)
			if bad != "" {
				bads = append(bads, id+": "+bad)
			}
		}
		c.Got = abbrev(uniq(gots))
		if len(bads) > 0 {
			c.OK = false
			c.Margin = abbrev(bads)
		}
		return c
	}}
}

// WaitsAtLeastHint requires that after every loss with the given code (a
// close code, or the HTTP status of a refused upgrade) the client's next dial
// comes at least hint later. Clients that never saw the code are not held to
// it, but at least one client must have, or the scenario proved nothing.
func WaitsAtLeastHint(code int, hint time.Duration, why string) Check {
	limit := ms(hint)
	t := reports.Target{Name: "waits-hint", Want: fmt.Sprintf(">= %s after %d", fmtMS(limit), code), Limit: limit, Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		c := reports.Check{Name: t.Name, Want: t.Want, OK: true}
		shortest, seen := math.Inf(1), 0
		var bad []string
		for _, id := range tl.Clients {
			evs := tl.ClientEvents(id)
			for i, e := range evs {
				if e.Kind != string(client.EventDisconnected) || e.Code != code {
					continue
				}
				for _, next := range evs[i+1:] {
					if next.Kind == string(client.EventDialing) {
						seen++
						gap := next.TMS - e.TMS
						shortest = math.Min(shortest, gap)
						if gap < limit {
							bad = append(bad, fmt.Sprintf("%s: retried %s after %d, %s too early", id, fmtMS(gap), code, fmtMS(limit-gap)))
						}
						break
					}
				}
			}
		}
		switch {
		case seen == 0:
			c.OK, c.Got = false, fmt.Sprintf("no retry after %d", code)
			c.Margin = fmt.Sprintf("never saw a loss with %d followed by a dial", code)
		case len(bad) > 0:
			c.OK, c.Got = false, fmt.Sprintf("waited %s", fmtMS(shortest))
			c.Margin = abbrev(bad)
		default:
			c.Got = fmt.Sprintf("waited at least %s (%d retries)", fmtMS(shortest), seen)
			c.Margin = fmt.Sprintf("%s over the hint", fmtMS(shortest-limit))
		}
		return c
	}}
}

// MaxAttempts bounds the connection attempts from the fault start to
// recovery (or to the end of the run) per client: no hot loop.
func MaxAttempts(n int, why string) Check {
	return perClient("attempts", fmt.Sprintf("<= %d", n), float64(n), why, func(tl *Timeline, id string) (string, string) {
		m := tl.Measure(id)
		got := fmt.Sprintf("%d attempts", m.Attempts)
		if m.Attempts > n {
			return got, fmt.Sprintf("%d attempts, %d over", m.Attempts, m.Attempts-n)
		}
		return got, ""
	})
}

// StopsOnFatal requires the client to stop for good after the fault: a fatal
// event with the given code and no dial after it.
func StopsOnFatal(code int, why string) Check {
	return perClient("no-retry-after-fatal", fmt.Sprintf("fatal %d, 0 dials after", code), 0, why,
		func(tl *Timeline, id string) (string, string) {
			if tl.Outside(id) {
				return stopsFromWire(tl, id, code)
			}
			evs := tl.ClientEvents(id)
			fatalAt := -1
			for i, e := range evs {
				if e.Kind == string(client.EventFatal) {
					fatalAt = i
					break
				}
			}
			dials := 0
			from := 0
			if fatalAt >= 0 {
				from = fatalAt
			} else {
				// No fatal stop: count the dials after the fault started.
				for i, e := range evs {
					if e.TMS >= tl.FaultStart() {
						from = i
						break
					}
				}
			}
			for _, e := range evs[from:] {
				if e.Kind == string(client.EventDialing) {
					dials++
				}
			}
			if fatalAt < 0 {
				return fmt.Sprintf("no fatal stop, %d dials", dials), fmt.Sprintf("kept retrying (%d dials) instead of stopping on %d", dials, code)
			}
			f := evs[fatalAt]
			got := fmt.Sprintf("fatal %d, %d dials after", f.Code, dials)
			switch {
			case f.Code != code:
				return got, fmt.Sprintf("stopped on %d, want %d", f.Code, code)
			case dials > 0:
				return got, fmt.Sprintf("%d dials after the fatal stop", dials)
			}
			return got, ""
		})
}

// stopsFromWire is StopsOnFatal for an outside client, which cannot say it
// stopped: after the first loss on which the server sent code, the wire must
// show no dial.
func stopsFromWire(tl *Timeline, id string, code int) (string, string) {
	evs := tl.ClientEvents(id)
	for i, e := range evs {
		if e.Kind != string(client.EventDisconnected) || e.Code != code || e.TMS < tl.faultIssued() {
			continue
		}
		dials := 0
		for _, next := range evs[i+1:] {
			if next.Kind == string(client.EventDialing) {
				dials++
			}
		}
		got := fmt.Sprintf("%d dials after %d (seen on the wire)", dials, code)
		if dials > 0 {
			return got, fmt.Sprintf("kept dialling (%d dials) after the server's %d", dials, code)
		}
		return got, ""
	}
	return "no loss with " + fmt.Sprint(code), fmt.Sprintf("the wire shows no connection ended by the server's %d", code)
}

// wireSlack is how much later than the policy an outside client's delay may
// look: the tap measures from the socket's close to the next connect, which
// adds the client's teardown and its dial's start to the delay it chose.
const wireSlack = AtOnce

// DelaysWithinPolicy requires every announced backoff delay to lie inside the
// policy envelope for its attempt, or at or above the hint it honoured.
func DelaysWithinPolicy(why string) Check {
	return perClient("delays-in-policy", "every delay inside Backoff.Envelope(attempt)", 0, why,
		func(tl *Timeline, id string) (string, string) {
			n, over := 0, 0.5
			if tl.Outside(id) {
				over += ms(wireSlack)
			}
			for _, e := range tl.ClientEvents(id) {
				if e.Kind != string(client.EventBackoff) {
					continue
				}
				n++
				if e.HintMS > 0 {
					if e.DelayMS+0.5 < e.HintMS {
						return fmt.Sprintf("%d delays", n), fmt.Sprintf("attempt %d: %s is below the hint %s", e.Attempt, fmtMS(e.DelayMS), fmtMS(e.HintMS))
					}
					continue
				}
				lo, hi := tl.Options.Backoff.Envelope(max(e.Attempt, 1))
				if e.DelayMS+0.5 < ms(lo) || e.DelayMS-over > ms(hi) || e.DelayMS <= 0 {
					return fmt.Sprintf("%d delays", n), fmt.Sprintf("attempt %d: %s outside [%s, %s]", e.Attempt, fmtMS(e.DelayMS), fmtMS(ms(lo)), fmtMS(ms(hi)))
				}
			}
			return fmt.Sprintf("%d delays", n), ""
		})
}

// BackoffNotReset requires that a connection which stayed ready for less than
// MinHealthyUptime does not reset the attempt counter: a flapping server must
// not be able to turn backoff into a hot loop.
func BackoffNotReset(why string) Check {
	return outsideNA("the attempt counter is inside the client; the wire shows only the delays (delays-in-policy judges those)", perClient("backoff-not-reset", "attempts keep counting across short connections", 0, why,
		func(tl *Timeline, id string) (string, string) {
			minUp := ms(tl.Options.MinHealthyUptime)
			readyAt, upFor := math.NaN(), math.Inf(1)
			prev, resets, short := 0, 0, 0
			for _, e := range tl.ClientEvents(id) {
				switch e.Kind {
				case string(client.EventReady):
					readyAt = e.TMS
				case string(client.EventDisconnected):
					if !math.IsNaN(readyAt) {
						upFor = e.TMS - readyAt
						readyAt = math.NaN()
					}
				case string(client.EventBackoff):
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
			if resets > 0 {
				return got, fmt.Sprintf("attempt counter reset %d times after connections shorter than %s", resets, fmtMS(minUp))
			}
			return got, ""
		}))
}

// outsideNA makes c not applicable when the client under test is an outside
// program, for the reason why.
func outsideNA(why string, c Check) Check {
	eval := c.Eval
	c.Eval = func(tl *Timeline) reports.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return notApplicable(c.Target.Name, c.Target.Want, abbrev(out)+": outside client; "+why)
		}
		return eval(tl)
	}
	return c
}

// HerdSpread requires the clients' first dials after the fault end to be
// spread out: no window of the given width holds more than twice its share,
// where the share is the clients spread evenly over the jitter range the
// policy promises (spread).
func HerdSpread(window, spread time.Duration, why string) Check {
	name := "herd-spread"
	t := reports.Target{Name: name, Want: fmt.Sprintf("<= 2x an even share per %v", window), Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		n := len(tl.Clients)
		windows := max(float64(spread)/float64(window), 1)
		share := float64(n) / windows
		limit := int(math.Ceil(2 * share))
		c := reports.Check{Name: name, Want: fmt.Sprintf("<= %d per %v", limit, window)}
		end := tl.FaultEnd()
		counts := map[int]int{}
		firsts := 0
		for _, id := range tl.Clients {
			for _, e := range tl.ClientEvents(id) {
				if e.Kind == string(client.EventDialing) && e.TMS >= end {
					counts[int((e.TMS-end)/ms(window))]++
					firsts++
					break
				}
			}
		}
		worst, at := 0, 0
		for w, k := range counts {
			if k > worst || (k == worst && w < at) {
				worst, at = k, w
			}
		}
		c.Got = fmt.Sprintf("%d in one window (+%v), %d clients dialled", worst, time.Duration(at)*window, firsts)
		c.OK = worst <= limit && firsts > 0
		if !c.OK {
			c.Margin = fmt.Sprintf("%d clients in one %v window; the policy spreads them over %v", worst, window, spread)
		}
		return c
	}}
}

// StableAfterRecovery requires every client to stay connected once it has
// recovered: no disconnect after the recovery moment.
func StableAfterRecovery(why string) Check {
	return perClient("stable", "0 disconnects after recovery", 0, why, func(tl *Timeline, id string) (string, string) {
		m := tl.Measure(id)
		if m.RecoveredAt == nil {
			return "not recovered", "never recovered"
		}
		var lost []string
		for _, e := range tl.ClientEvents(id) {
			if e.Kind == string(client.EventDisconnected) && e.TMS > *m.RecoveredAt {
				lost = append(lost, fmt.Sprintf("%s at %s", e.Detail, fmtMS(e.TMS)))
			}
		}
		if len(lost) > 0 {
			return fmt.Sprintf("%d disconnects", len(lost)), "lost again: " + strings.Join(lost, "; ")
		}
		return "0 disconnects", ""
	})
}

// RedialWithin requires every client's first dial after the fault start to
// come within bound: a client must not wait on a peer that is gone.
func RedialWithin(bound time.Duration, why string) Check {
	return budgetCheck("redial", bound, why, func(tl *Timeline, m ClientMeasure) *float64 {
		for _, e := range tl.ClientEvents(m.Client) {
			if e.Kind == string(client.EventDialing) && e.TMS >= tl.FaultStart() {
				return ptr(e.TMS - tl.FaultStart())
			}
		}
		return nil
	})
}

// GivesUpWithin requires that every loss with the given cause (such as
// "handshake-timeout") comes at most bound after the dial it ended, and that
// there was at least one.
func GivesUpWithin(cause string, bound time.Duration, why string) Check {
	limit := ms(bound)
	return perClient("gives-up", fmt.Sprintf("%s within %s of the dial", cause, fmtMS(limit)), limit, why,
		func(tl *Timeline, id string) (string, string) {
			dialAt, longest, seen := math.NaN(), 0.0, 0
			for _, e := range tl.ClientEvents(id) {
				switch e.Kind {
				case string(client.EventDialing):
					dialAt = e.TMS
				case string(client.EventDisconnected):
					if strings.Contains(e.Detail, "cause="+cause) && !math.IsNaN(dialAt) {
						seen++
						longest = math.Max(longest, e.TMS-dialAt)
					}
				}
			}
			if seen == 0 {
				return "never", "no " + cause + " seen"
			}
			got := fmt.Sprintf("%d, longest %s", seen, fmtMS(longest))
			if longest > limit {
				return got, fmt.Sprintf("held on %s, %s too long", fmtMS(longest), fmtMS(longest-limit))
			}
			return got, ""
		})
}

// SpreadAtCap requires the backoff delays taken at the cap to differ from one
// another: jitter applied after the cap keeps clients apart during a long
// outage, where most libraries let them all wait exactly the cap.
func SpreadAtCap(why string) Check {
	return perClient("spread-at-cap", "delays at the cap not all equal", 0, why, func(tl *Timeline, id string) (string, string) {
		capMS := ms(tl.Options.Backoff.Max)
		var at []float64
		for _, e := range tl.ClientEvents(id) {
			if e.Kind != string(client.EventBackoff) || e.HintMS > 0 {
				continue
			}
			if _, hi := tl.Options.Backoff.Envelope(max(e.Attempt, 1)); ms(hi) >= capMS {
				at = append(at, e.DelayMS)
			}
		}
		if len(at) < 2 {
			return fmt.Sprintf("%d delays at the cap", len(at)), "fewer than 2 delays reached the cap: the outage was too short to tell"
		}
		lo, hi := at[0], at[0]
		for _, d := range at {
			lo, hi = math.Min(lo, d), math.Max(hi, d)
		}
		got := fmt.Sprintf("%d at the cap, %s..%s", len(at), fmtMS(lo), fmtMS(hi))
		// Delays seen on the wire vary by scheduling alone: a fixed delay
		// must not pass as jitter.
		least := 1.0
		if tl.Outside(id) {
			least = ms(wireSlack) / 4
		}
		if hi-lo < least {
			return got, "every delay at the cap is the same: clients would come back together"
		}
		return got, ""
	})
}

// RedialAfterLossWithin requires every client's first dial after it declared
// the connection lost to come within bound of that moment: teardown must not
// wait on a dead peer beyond the client's close grace.
func RedialAfterLossWithin(bound time.Duration, why string) Check {
	return budgetCheck("redial-after-loss", bound, why, func(tl *Timeline, m ClientMeasure) *float64 {
		if m.DetectedAt == nil {
			return nil
		}
		for _, e := range tl.ClientEvents(m.Client) {
			if e.Kind == string(client.EventDialing) && e.TMS >= *m.DetectedAt {
				return ptr(e.TMS - *m.DetectedAt)
			}
		}
		return nil
	})
}
