package harness

import (
	"cmp"
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
	return budget{name: name, b: b, figure: figure}.check()
}

// budget is a time check: every client's figure held to a bound.
type budget struct {
	name    string
	b       Bound
	boundAt func(tl *Timeline) Bound
	figure  func(tl *Timeline, m ClientMeasure) *float64
	// window is how long a client had to produce the figure, for the
	// verdict on one that never did; nil means the run after the fault.
	window func(tl *Timeline) float64
	// skip, if set, says why a client without the figure has nothing to
	// judge rather than failed.
	skip func(tl *Timeline, m ClientMeasure) (why string, ok bool)
	// missing, if set, says why a client has no figure, for the margin.
	missing string
}

// neverVerbs words a missing figure: "never detected within 27.5 s".
var neverVerbs = map[string]string{"detect": "detected", "recover": "recovered", "redial": "redialled",
	"redial-after-loss": "redialled after its loss"}

func (bc budget) check() Check {
	stated := timeTarget(bc.name, bc.b)
	return Check{Target: stated, Eval: func(tl *Timeline) result.Check {
		t := stated
		if bc.boundAt != nil && !isNaN(tl.FaultEnd()) {
			t = timeTarget(bc.name, bc.boundAt(tl))
		}
		if len(tl.Clients) == 0 {
			return NotApplicable(t, "no client ran")
		}
		var worst float64
		var missing, skipped []string
		for _, m := range tl.MeasureAll() {
			v := bc.figure(tl, m)
			if v != nil {
				worst = max(worst, *v)
				continue
			}
			if bc.skip != nil {
				if why, ok := bc.skip(tl, m); ok {
					skipped = append(skipped, m.Client+": "+why)
					continue
				}
			}
			missing = append(missing, m.Client)
		}
		var c result.Check
		switch {
		case len(skipped) == len(tl.Clients):
			c = NotApplicable(t, abbrev(skipped))
		case len(missing) > 0:
			why := cmp.Or(bc.missing, "nothing to measure")
			c = Verdict(t, false, bc.never(tl, missing), nil, fmt.Sprintf("held to %s; %s: %s%s", t.Want, abbrev(missing), why, tl.exits(missing)))
		case worst > t.Limit:
			c = Verdict(t, false, fmtMS(worst), ptr(worst), "missed by "+fmtMS(worst-t.Limit))
		default:
			c = Verdict(t, true, fmtMS(worst), ptr(worst), fmt.Sprintf("%s of a %s budget", fmtMS(worst), fmtMS(t.Limit)))
		}
		return tl.viaWire(c)
	}}
}

// never says what did not happen, and within how long: "never detected
// within 27.5 s", with how many clients when several ran.
func (bc budget) never(tl *Timeline, missing []string) string {
	verb := neverVerbs[bc.name]
	if verb == "" {
		verb = "measured (" + bc.name + ")"
	}
	window := tl.runAfterFault()
	if bc.window != nil {
		window = bc.window(tl)
	}
	s := "never " + verb + " within " + fmtSpan(window)
	if len(tl.Clients) > 1 {
		s += fmt.Sprintf(", for %d of %d clients (%s)", len(missing), len(tl.Clients), abbrev(missing))
	}
	return s
}

// exits says which of the clients ended on their own before the workload
// stopped (an outside process that exited, a client whose Run returned),
// which is why they have no figure; "" when none did.
func (tl *Timeline) exits(ids []string) string {
	drain := math.Inf(1)
	if i := slices.IndexFunc(tl.Events, func(e result.Event) bool { return e.Kind == result.KindDrain }); i >= 0 {
		drain = tl.Events[i].TMS
	}
	var out []string
	for _, e := range tl.Events {
		if e.Kind == result.KindReturned && e.TMS < drain && slices.Contains(ids, e.Client) {
			out = append(out, fmt.Sprintf("%s ended on its own at %s (%s)", e.Client, fmtMS(e.TMS), cmp.Or(e.Text, "returned")))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + abbrev(out)
}

// fmtSpan states a stretch of time for people: "350 ms", "27.5 s".
func fmtSpan(v float64) string {
	if v < 10000 {
		return fmtMS(v)
	}
	return fmt.Sprintf("%.1f s", v/1000)
}

// lateLoss is why a client has no detection of a silence: it declared
// none, or only as the fault was removed.
const lateLoss = "no loss declared while the fault was in force (at most when its removal closed the connection)"

// faultLength is how long the faults were in force, from the first's
// start to the last's end.
func (tl *Timeline) faultLength() float64 { return tl.FaultEnd() - tl.FaultStart() }

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
// within b of the last frame it received: what a heartbeat promises. It
// judges a silence the fault imposes, so only a loss declared while the
// fault was in force counts: one declared once the harness began to end
// it is the network closing or giving back the connection (removing a
// black hole closes the connections it held), not the client noticing. A client that did not
// notice in time fails with "never detected within" the fault's length.
func DetectSilenceWithin(b Bound) Check {
	c := budget{name: "detect", b: b, figure: func(tl *Timeline, m ClientMeasure) *float64 {
		if m.DetectedAt == nil || *m.DetectedAt >= tl.faultEnding() {
			return nil
		}
		if d := m.DetectFromSilence(); d != nil {
			return d
		}
		return m.Detect(tl) // no frame seen before: count from the fault
	}, window: (*Timeline).faultLength, missing: lateLoss}.check()
	c.Target.From = result.FromSilence
	return c
}

// DetectAckWithin requires every client to declare the connection lost
// within b of writing the first message that went unanswered: what an ack
// timeout promises when data still arrives but its own messages vanish.
//
// As with DetectSilenceWithin, only a loss declared while the fault was in
// force counts.
func DetectAckWithin(b Bound) Check {
	c := budget{name: "detect", b: b, figure: func(tl *Timeline, m ClientMeasure) *float64 {
		if m.DetectedAt == nil || *m.DetectedAt >= tl.faultEnding() {
			return nil
		}
		if from := tl.firstUnanswered(m.Client, *m.DetectedAt); from != nil {
			return sub(m.DetectedAt, *from)
		}
		return m.Detect(tl)
	}, window: (*Timeline).faultLength, missing: lateLoss}.check()
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
// done, within b of the fault end. A client that never lost its
// connection has nothing to recover from: the detection check fails it if
// it should have.
func RecoverWithin(b Bound) Check {
	return budget{name: "recover", b: b, figure: recovered, skip: neverLost}.check()
}

func recovered(tl *Timeline, m ClientMeasure) *float64 { return m.Recover(tl) }

// neverLost: the client was ready when the fault came and never declared
// its connection lost.
func neverLost(tl *Timeline, m ClientMeasure) (string, bool) {
	if m.DetectedAt != nil || m.RecoveredAt != nil {
		return "", false
	}
	ready := false
	for _, e := range tl.ClientEvents(m.Client) {
		if e.TMS >= tl.faultIssued() {
			break
		}
		switch e.Kind {
		case result.KindReady:
			ready = true
		case result.KindDisconnected, result.KindFatal, result.KindStopped:
			ready = false
		}
	}
	return "never lost its connection: nothing to recover from", ready
}

// RecoverAfterOutage requires every client to be ready again within the
// longest backoff delay that can be pending when the outage ends, plus one
// handshake (scaled by k). The target states it for the scheduled outage;
// the check holds the clients to the outage they really had, from the
// first fault's issue to the last fault's end, which a loaded machine or a
// slow Toxiproxy call can make longer than scheduled.
func RecoverAfterOutage(o client.Options, scheduled time.Duration, k Scale) Check {
	return budget{name: "recover", b: Recovery(o, scheduled, k), boundAt: func(tl *Timeline) Bound {
		applied := time.Duration((tl.FaultEnd() - tl.faultIssued()) * float64(time.Millisecond))
		b := Recovery(o, max(applied, scheduled), k)
		if applied > scheduled {
			b.Reason += fmt.Sprintf(" (the outage as it took effect: %v, scheduled %v)", applied.Round(time.Millisecond), scheduled)
		}
		return b
	}, figure: recovered, skip: neverLost}.check()
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
