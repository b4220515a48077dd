package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/reports"
)

// Slack is the scheduling allowance added to every time bound: a fraction of
// the bound plus a floor, so that a loaded 2-core machine running scenarios in
// parallel under the race detector does not fail a correct client. It is
// part of each target's stated Why.
func Slack(bound time.Duration) time.Duration {
	return bound/4 + 60*time.Millisecond
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(v float64) string { return fmt.Sprintf("%.0f ms", v) }

// budgetCheck builds a check that every client's figure is at most bound.
func budgetCheck(name string, bound time.Duration, why string, figure func(tl *Timeline, m ClientMeasure) *float64) Check {
	limit := ms(bound)
	t := reports.Target{Name: name, Want: "<= " + fmtMS(limit), Limit: limit, Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		c := reports.Check{Name: name, Want: t.Want, OK: true}
		var worst float64
		var missing []string
		for _, m := range tl.MeasureAll() {
			v := figure(tl, m)
			if v == nil {
				missing = append(missing, m.Client)
				continue
			}
			worst = max(worst, *v)
		}
		switch {
		case len(missing) > 0:
			c.OK = false
			c.Got = fmt.Sprintf("never, for %d of %d clients (%s)", len(missing), len(tl.Clients), abbrev(missing))
			c.Margin = "no " + name + " happened"
		case worst > limit:
			c.OK = false
			c.Got = fmtMS(worst)
			c.Margin = fmt.Sprintf("missed by %s", fmtMS(worst-limit))
		default:
			c.Got = fmtMS(worst)
			c.Margin = fmt.Sprintf("%s of a %s budget", fmtMS(worst), fmtMS(limit))
		}
		return c
	}}
}

// DetectWithin requires every client to declare the connection lost within
// bound of the fault start.
func DetectWithin(bound time.Duration, why string) Check {
	return budgetCheck("detect", bound, why, func(tl *Timeline, m ClientMeasure) *float64 { return m.Detect(tl) })
}

// RecoverWithin requires every client to be ready again, with a round trip
// done, within bound of the fault end.
func RecoverWithin(bound time.Duration, why string) Check {
	return budgetCheck("recover", bound, why, func(tl *Timeline, m ClientMeasure) *float64 { return m.Recover(tl) })
}

// NoReconnect requires every client to keep its connection throughout.
func NoReconnect(why string) Check {
	t := reports.Target{Name: "no-reconnect", Want: "0 disconnects", Limit: 0, Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		total, bad := 0, []string{}
		for _, m := range tl.MeasureAll() {
			if m.Disconnects > 0 {
				total += m.Disconnects
				bad = append(bad, m.Client)
			}
		}
		c := reports.Check{Name: t.Name, Want: t.Want, OK: total == 0, Got: fmt.Sprintf("%d disconnects", total)}
		if total > 0 {
			c.Margin = fmt.Sprintf("clients %s reconnected", abbrev(bad))
		}
		return c
	}}
}

// SawCloseCode requires every client's first loss after the fault to carry
// the given close code (1006 for a TCP close with no close frame).
func SawCloseCode(code int, why string) Check {
	t := reports.Target{Name: "close-code", Want: fmt.Sprint(code), Limit: float64(code), Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return notApplicable(t.Name, t.Want, abbrev(out)+": outside client; the close code its library reported is not on the wire")
		}
		c := reports.Check{Name: t.Name, Want: t.Want, OK: true}
		var got []string
		for _, id := range tl.Clients {
			first := firstLoss(tl, id)
			if first == nil {
				c.OK = false
				got = append(got, id+": no loss")
				continue
			}
			got = append(got, fmt.Sprint(first.Code))
			if first.Code != code {
				c.OK = false
			}
		}
		c.Got = abbrev(uniq(got))
		return c
	}}
}

func firstLoss(tl *Timeline, id string) *reports.Event {
	start := tl.faultIssued()
	for _, e := range tl.ClientEvents(id) {
		if e.Kind == string(client.EventDisconnected) && e.TMS >= start {
			return &e
		}
	}
	return nil
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func abbrev(ids []string) string {
	const max = 5
	if len(ids) <= max {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:max], ", ") + fmt.Sprintf(" and %d more", len(ids)-max)
}

// Evaluate runs every check against the timeline.
func Evaluate(tl *Timeline, checks []Check) []reports.Check {
	out := make([]reports.Check, len(checks))
	for i, c := range checks {
		out[i] = c.Eval(tl)
	}
	return out
}
