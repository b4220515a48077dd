package harness

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/result"
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(v float64) string { return fmt.Sprintf("%.0f ms", v) }

func isNaN(v float64) bool { return math.IsNaN(v) }

// Verdict is the result of holding a figure against t: pass when ok, fail
// otherwise. got is the figure for people, value the same as a number in
// t's unit (nil when no one number states it), and margin how close it
// came or why it missed. A check of one's own (a Check's Eval, or a runner
// such as the stress run) builds its results with Verdict and
// NotApplicable, so they carry the target's limit and unit as the
// catalogue's do.
func Verdict(t result.Target, ok bool, got string, value *float64, margin string) result.Check {
	v := result.Fail
	if ok {
		v = result.Pass
	}
	return result.Check{Name: t.Name, Verdict: v, Got: got, Value: value, Want: t.Want,
		Limit: t.Limit, Unit: t.Unit, Margin: margin, Defining: t.Defining}
}

// NotApplicable is the result of a check with nothing to judge: never a
// pass. why says what was missing.
func NotApplicable(t result.Target, why string) result.Check {
	return result.Check{Name: t.Name, Verdict: result.NotApplicable, Got: "n/a", Want: t.Want,
		Limit: t.Limit, Unit: t.Unit, Margin: why, Defining: t.Defining}
}

// viaWire marks c as read off the wire when an outside client ran.
func (tl *Timeline) viaWire(c result.Check) result.Check {
	if len(tl.outsideClients()) > 0 {
		c.Via = result.ViaWire
	}
	return c
}

// timeTarget states "figure <= bound + allowance" with the reason for both.
func timeTarget(name string, b Bound) result.Target {
	limit := ms(b.Limit())
	return result.Target{Name: name, Want: "<= " + fmtMS(limit), Limit: limit, Unit: result.UnitMS,
		Bound: ms(b.D), Allowance: ms(b.Allowance), Why: b.Why()}
}

// budgetCheck holds every client's figure to a time bound.
func budgetCheck(name string, b Bound, figure func(tl *Timeline, m ClientMeasure) *float64) Check {
	return budgetCheckAt(name, b, nil, figure)
}

// budgetCheckAt is budgetCheck with a bound that depends on the faults as
// they took effect: the target states b, and the check holds the clients
// to boundAt(tl) when it is set.
func budgetCheckAt(name string, b Bound, boundAt func(tl *Timeline) Bound, figure func(tl *Timeline, m ClientMeasure) *float64) Check {
	stated := timeTarget(name, b)
	return Check{Target: stated, Eval: func(tl *Timeline) result.Check {
		t := stated
		if boundAt != nil && !isNaN(tl.FaultEnd()) {
			t = timeTarget(name, boundAt(tl))
		}
		if len(tl.Clients) == 0 {
			return NotApplicable(t, "no client ran")
		}
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
		var c result.Check
		switch {
		case len(missing) > 0:
			c = Verdict(t, false, fmt.Sprintf("never, for %d of %d clients (%s)", len(missing), len(tl.Clients), abbrev(missing)), nil,
				fmt.Sprintf("no %s within the %s the run lasted after the fault", name, fmtMS(tl.runAfterFault())))
		case worst > t.Limit:
			c = Verdict(t, false, fmtMS(worst), ptr(worst), "missed by "+fmtMS(worst-t.Limit))
		default:
			c = Verdict(t, true, fmtMS(worst), ptr(worst), fmt.Sprintf("%s of a %s budget", fmtMS(worst), fmtMS(t.Limit)))
		}
		return tl.viaWire(c)
	}}
}

// runAfterFault is how long the recorded run went on after the first
// fault's start.
func (tl *Timeline) runAfterFault() float64 {
	if len(tl.Events) == 0 || isNaN(tl.FaultStart()) {
		return 0
	}
	return tl.Events[len(tl.Events)-1].TMS - tl.FaultStart()
}

// DetectWithin requires every client to declare the connection lost within
// b of the fault taking effect.
func DetectWithin(b Bound) Check {
	return budgetCheck("detect", b, func(tl *Timeline, m ClientMeasure) *float64 { return m.Detect(tl) })
}

// DetectSilenceWithin requires every client to declare the connection lost
// within b of the last frame it received: what a heartbeat promises. A
// client that never detected fails it, whatever its silence.
func DetectSilenceWithin(b Bound) Check {
	c := budgetCheck("detect", b, func(tl *Timeline, m ClientMeasure) *float64 {
		if m.DetectedAt == nil {
			return nil
		}
		if d := m.DetectFromSilence(); d != nil {
			return d
		}
		return m.Detect(tl) // no frame seen before: count from the fault
	})
	c.Target.From = result.FromSilence
	return c
}

// DetectAckWithin requires every client to declare the connection lost
// within b of writing the first message that went unanswered: what an ack
// timeout promises when data still arrives but its own messages vanish.
func DetectAckWithin(b Bound) Check {
	c := budgetCheck("detect", b, func(tl *Timeline, m ClientMeasure) *float64 {
		if m.DetectedAt == nil {
			return nil
		}
		if from := tl.firstUnanswered(m.Client, *m.DetectedAt); from != nil {
			return sub(m.DetectedAt, *from)
		}
		return m.Detect(tl)
	})
	c.Target.From = result.FromUnanswered
	return sessionOnly(needsAcks, c)
}

// firstUnanswered is when client id handed over the first message the
// server had not received by `by`, or nil if there was none.
func (tl *Timeline) firstUnanswered(id string, by float64) *float64 {
	received := map[uint64]bool{}
	for _, e := range tl.Events {
		if e.Kind == result.KindRecv && e.Client == id && e.TMS <= by {
			received[e.Seq] = true
		}
	}
	for _, e := range tl.ClientEvents(id) {
		if e.Kind == result.KindSent && e.TMS <= by && !received[e.Seq] {
			return ptr(e.TMS)
		}
	}
	return nil
}

// RecoverWithin requires every client to be ready again, with a round trip
// done, within b of the fault end.
func RecoverWithin(b Bound) Check {
	return budgetCheck("recover", b, func(tl *Timeline, m ClientMeasure) *float64 { return m.Recover(tl) })
}

// RecoverAfterOutage requires every client to be ready again within the
// longest backoff delay that can be pending when the outage ends, plus one
// handshake (scaled by k). The target states it for the scheduled outage;
// the check holds the clients to the outage they really had, from the
// first fault's issue to the last fault's end, which a loaded machine or a
// slow Toxiproxy call can make longer than scheduled.
func RecoverAfterOutage(o client.Options, scheduled time.Duration, k Scale) Check {
	return budgetCheckAt("recover", Recovery(o, scheduled, k), func(tl *Timeline) Bound {
		applied := time.Duration((tl.FaultEnd() - tl.faultIssued()) * float64(time.Millisecond))
		b := Recovery(o, max(applied, scheduled), k)
		if applied > scheduled {
			b.Reason += fmt.Sprintf(" (the outage as it took effect: %v, scheduled %v)", applied.Round(time.Millisecond), scheduled)
		}
		return b
	}, func(tl *Timeline, m ClientMeasure) *float64 { return m.Recover(tl) })
}

// NoReconnect requires every client to keep its connection throughout.
func NoReconnect(why string) Check {
	t := result.Target{Name: "no-reconnect", Want: "0 disconnects", Unit: result.UnitCount, Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) result.Check {
		if len(tl.Clients) == 0 {
			return NotApplicable(t, "no client ran")
		}
		total, bad := 0, []string{}
		for _, m := range tl.MeasureAll() {
			if m.Disconnects > 0 {
				total += m.Disconnects
				bad = append(bad, m.Client)
			}
		}
		margin := ""
		if total > 0 {
			margin = fmt.Sprintf("clients %s reconnected", abbrev(bad))
		}
		return tl.viaWire(Verdict(t, total == 0, fmt.Sprintf("%d disconnects", total), ptr(float64(total)), margin))
	}}
}

// SawCloseCode requires every client's first loss after the fault to carry
// the given close code (1006 for a TCP close with no close frame).
func SawCloseCode(code int, why string) Check {
	t := result.Target{Name: "close-code", Want: result.CloseCode(code).String(), Limit: float64(code), Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) result.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return NotApplicable(t, abbrev(out)+": outside client; the close code its library reported is not on the wire")
		}
		ok := true
		var got []string
		for _, id := range tl.Clients {
			first := firstLoss(tl, id)
			if first == nil {
				ok = false
				got = append(got, id+": no loss")
				continue
			}
			got = append(got, first.Code.String())
			if int(first.Code) != code {
				ok = false
			}
		}
		if len(got) == 0 {
			return NotApplicable(t, "no client ran")
		}
		return Verdict(t, ok, abbrev(uniq(got)), nil, "")
	}}
}

func firstLoss(tl *Timeline, id string) *result.Event {
	start := tl.faultIssued()
	for _, e := range tl.ClientEvents(id) {
		if e.Kind == result.KindDisconnected && e.TMS >= start {
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
	const most = 5
	if len(ids) <= most {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:most], ", ") + fmt.Sprintf(" and %d more", len(ids)-most)
}

// Evaluate runs every check against the timeline.
func Evaluate(tl *Timeline, checks []Check) []result.Check {
	out := make([]result.Check, len(checks))
	for i, c := range checks {
		out[i] = c.Eval(tl)
	}
	return out
}

// Judge returns a scenario's verdict from its checks: fail when one
// failed, n/a when its defining check (or, with none marked, every check)
// had nothing to judge, pass otherwise.
func Judge(checks []result.Check) result.Verdict {
	defining, judged := false, false
	for _, c := range checks {
		switch {
		case c.Verdict == result.Fail:
			return result.Fail
		case c.Defining && c.Verdict == result.NotApplicable:
			defining = true
		case c.Verdict == result.Pass:
			judged = true
		}
	}
	if defining || !judged {
		return result.NotApplicable
	}
	return result.Pass
}
