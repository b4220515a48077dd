package reports

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

func TestMatrixCells(t *testing.T) {
	p := buildPage(fixedResult())
	m := p.Matrix
	require.NotNil(t, m)
	var names []string
	for _, c := range m.Columns {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"reference", "./bot", "no-heartbeat", "no-jitter"}, names, "Result.Clients order")
	var rows []string
	for _, r := range m.Rows {
		rows = append(rows, r.Name)
	}
	assert.Equal(t, []string{"BlackHole", "PongWithheld", "Logout4401", "MassDrop", "LossyLink", "ResumeGap", "SlowLoris", "CloseStorm"}, rows)

	cell := func(row, col int) matrixCell { return m.Rows[row].Cells[col] }
	assert.Equal(t, matrixCell{ID: "s-BlackHole--reference", Class: cellPass, Pre: "rec", Text: "262 ms",
		Title: "BlackHole × reference: pass · detect 312.4 ms, recover 262 ms"}, cell(0, 0))
	assert.Equal(t, cellFail, cell(1, 1).Class)
	assert.Equal(t, "detect +1", cell(1, 1).Text, "first failed check, and how many more")
	assert.Equal(t, cellCaught, cell(0, 2).Class, "a mutant failing is caught")
	assert.Equal(t, "detect +1", cell(0, 2).Text)
	assert.Equal(t, cellMissed, cell(2, 2).Class, "a mutant passing is neutral")
	assert.Equal(t, cellNone, cell(3, 2).Class)
	assert.Empty(t, cell(3, 2).ID, "nothing to link to")
	assert.Equal(t, "✓", cell(2, 0).Text, "no figure to show")
	assert.Equal(t, cellNA, cell(5, 1).Class)
	assert.Equal(t, cellInterrupted, cell(6, 0).Class)
	assert.Equal(t, cellNotRun, cell(7, 0).Class)

	assert.Equal(t, "4/6", m.Columns[0].Status, "interrupted and not run are not passes")
	assert.Equal(t, "passed, 1 interrupted, 1 not run", m.Columns[0].Sub)
	assert.Equal(t, cellInterrupted, m.Columns[0].StatusClass, "cut short, not failed")
	assert.Equal(t, "0/2", m.Columns[1].Status)
	assert.Equal(t, "passed, 1 n/a", m.Columns[1].Sub)
	assert.Equal(t, "✓ caught", m.Columns[2].Status)
	assert.Equal(t, "by 2 of 3", m.Columns[2].Sub)
	assert.Equal(t, "✗ not caught", m.Columns[3].Status)
	assert.Equal(t, "1 check missed", m.Columns[3].Sub)
	assert.Equal(t, cellFail, m.Columns[3].StatusClass)
}

func TestMatrixFallsBackToScenarioClients(t *testing.T) {
	r := fixedResult()
	r.Clients = nil
	p := buildPage(r)
	require.NotNil(t, p.Matrix)
	var names []string
	for _, c := range p.Matrix.Columns {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"reference", "./bot", "no-heartbeat", "no-jitter"}, names, "order of first appearance")
	// Without Result.Clients nothing is known to be a mutant: every run is
	// drawn in full and a failure is a failure.
	assert.Zero(t, p.Compact)
	assert.Equal(t, cellFail, p.Matrix.Rows[0].Cells[2].Class)
}

func TestNoMatrixForOneClient(t *testing.T) {
	r := fixedResult()
	r.Clients = nil
	r.Scenarios = []result.Scenario{blackHole(), logout()}
	html := render(t, r)
	notContains(t, html, `id="matrix"`)
	notContains(t, html, `class="group"`)
	contains(t, html, `id="s-Logout4401--reference"`)
}

func TestSectionsGroupedByClient(t *testing.T) {
	p := buildPage(fixedResult())
	var order []string
	for _, s := range p.Sections {
		order = append(order, s.ID)
	}
	assert.Equal(t, []string{
		"s-BlackHole--reference", "s-Logout4401--reference", "s-MassDrop--reference", "s-LossyLink--reference",
		"s-SlowLoris--reference", "s-CloseStorm--reference",
		"s-PongWithheld--bot", "s-ResumeGap--bot",
		"s-BlackHole--no-heartbeat", "s-PongWithheld--no-heartbeat", "s-Logout4401--no-heartbeat",
		"s-BlackHole--no-jitter", "s-MassDrop--no-jitter",
	}, order)
	var groups []string
	for _, s := range p.Sections {
		if s.Group != nil {
			groups = append(groups, s.Group.ID)
		}
	}
	assert.Equal(t, []string{"c-reference", "c-bot", "c-no-heartbeat", "c-no-jitter"}, groups)
	assert.Equal(t, 3, p.Sections[8].Group.Runs)
	assert.Equal(t, 1, p.Sections[8].Group.Full)
	bot := p.Sections[6].Group
	assert.True(t, bot.Client.Outside)
	assert.True(t, bot.Client.Plain)
	assert.Contains(t, bot.Client.Profile, "ping every 1,000 ms, pong within 500 ms")
}

// TestEveryKindIsDrawn: the timeline knows how to draw every kind of the
// vocabulary, so a new kind is a decision, not a default.
func TestEveryKindIsDrawn(t *testing.T) {
	for _, k := range result.Vocabulary() {
		_, ok := markClass(k.Kind)
		assert.True(t, ok, "kind %q has no drawing class", k.Kind)
	}
	_, ok := markClass("no-such-kind")
	assert.False(t, ok)
	stopped := result.Event{Kind: result.KindDisconnected, Cause: result.CauseStopped}
	assert.Equal(t, mClosed, drawClass(&stopped), "the harness stopping the client is no disconnect")
}

func TestTimelineBudgets(t *testing.T) {
	s := blackHole()
	tl := buildTimeline(&s)
	require.NotNil(t, tl)
	require.Len(t, tl.Budgets, 2)
	det, rec := tl.Budgets[0], tl.Budgets[1]
	assert.Equal(t, "ok", det.Class, "the detect check passed")
	assert.Equal(t, f1(tl.x(1000)), det.X0, "from DetectFromMS")
	assert.Equal(t, f1(tl.x(1000+497.5)), det.X1, "as long as the detect target's limit")
	assert.Equal(t, f1(tl.x(1312.4)), det.MarkX, "to DetectedAtMS")
	assert.Equal(t, f1(tl.x(816.5)), det.SilenceX, "silence from SilenceFromMS")
	assert.Equal(t, f1(tl.x(3262)), rec.MarkX)

	// Nothing measured, nothing drawn.
	s.Measured.DetectFromMS, s.Measured.RecoverFromMS = nil, nil
	assert.Empty(t, buildTimeline(&s).Budgets)

	p := pongWithheld()
	tl = buildTimeline(&p)
	assert.Equal(t, "over", tl.Budgets[0].Class, "the detect check failed")
	assert.True(t, tl.Wire)
	var labels []string
	for _, l := range tl.Lanes {
		labels = append(labels, l.Label)
	}
	assert.Equal(t, []string{"client", "client · conn 1 · wire", "client · conn 2 · wire", "server", "tap", "harness"}, labels)
}

// TestSpreadFromFieldsAlone: percentiles, CDF and histogram come from
// Measured.Spread alone, with no timeline to work anything out from.
func TestSpreadFromFieldsAlone(t *testing.T) {
	s := result.Scenario{Name: "Herd", Client: "reference", Verdict: result.Pass, Clients: 10,
		Targets: []result.Target{{Name: "recover", Limit: 900}, {Name: "detect", Limit: 100}},
		Checks:  []result.Check{{Name: "recover", Verdict: result.Pass}, {Name: "detect", Verdict: result.Fail}, {Name: herdCheck, Verdict: result.Fail, Got: "5 in one window"}},
		Measured: result.Measured{Spread: &result.Spread{
			Clients: 10, Recovered: 9,
			Detect:     result.Distribution{N: 10, P50: 20, P90: 140, P99: 150, Max: 150},
			Recover:    result.Distribution{N: 9, P50: 500, P90: 900, P99: 900, Max: 900},
			Attempts:   result.Distribution{N: 10, P50: 2, P90: 3, P99: 4, Max: 4},
			RecoverCDF: []result.CDFPoint{{MS: 100, Fraction: 0.1}, {MS: 500, Fraction: 0.5}, {MS: 900, Fraction: 0.9}},
			WindowMS:   100, FromMS: 2000, HerdLimit: 3,
			FirstDials: []result.Bucket{{Index: 0, Count: 5}, {Index: 2, Count: 4}},
			OtherDials: []result.Bucket{{Index: -3, Count: 7}, {Index: 0, Count: 1}},
		}},
	}
	require.Nil(t, buildTimeline(&s), "no events, no faults: no timeline")
	sp := buildSpread(&s, nil)
	require.NotNil(t, sp)
	assert.Equal(t, 1, sp.Missing)
	require.Len(t, sp.Stats, 3)
	assert.Equal(t, pctRow{What: "detection", N: 10, P50: "20 ms", P90: "140 ms", P99: "150 ms", Max: "150 ms", Budget: "100 ms", BudgetClass: "over"}, sp.Stats[0])
	assert.Equal(t, pctRow{What: "recovery", N: 9, P50: "500 ms", P90: "900 ms", P99: "900 ms", Max: "900 ms", Budget: "900 ms", BudgetClass: "ok"}, sp.Stats[1])
	assert.Equal(t, pctRow{What: "attempts", N: 10, P50: "2", P90: "3", P99: "4", Max: "4"}, sp.Stats[2])

	require.NotNil(t, sp.CDF)
	assert.Equal(t, 1, sp.CDF.Missing)
	require.Len(t, sp.CDF.Marks, 3)
	assert.Equal(t, f1(cdfY1-0.5*(cdfY1-cdfY0)), sp.CDF.Marks[0].CY, "p50 sits on the curve where it reads 50%")
	require.NotNil(t, sp.CDF.Budget)
	assert.Equal(t, "recover budget 900 ms", sp.CDF.Budget.Label)

	h := sp.Herd
	require.NotNil(t, h)
	assert.NotEmpty(t, h.First)
	assert.NotEmpty(t, h.Other)
	assert.NotEmpty(t, h.XTicks, "an axis of its own")
	require.NotNil(t, h.Limit)
	assert.Equal(t, "herd-spread limit: 3 per 100 ms", h.Limit.Label)
	assert.Equal(t, "over", h.CheckClass)

	html := render(t, &result.Result{Scenarios: []result.Scenario{s}})
	contains(t, html, `<h3>Across 10 clients</h3>`)
	contains(t, html, `class="chart cdf"`)
	contains(t, html, `class="chart herd"`)
	contains(t, html, "1 client never recovered")
	contains(t, html, "9 of 10 clients recovered")
	contains(t, html, `herd-spread limit on first dials per window: 5 in one window <b class="nok">over it</b>`)
	contains(t, html, "No events recorded.")

	one := blackHole()
	assert.Nil(t, buildSpread(&one, nil), "no spread in the result: nothing drawn")
}

// TestDelayOutOfBandIsRed: a delay is drawn red when the result says it
// was not in policy, and only then: the page does not judge it again.
func TestDelayOutOfBandIsRed(t *testing.T) {
	s := pongWithheld()
	c := buildBackoff(&s)
	require.NotNil(t, c)
	assert.Equal(t, 1, c.Outside)
	require.Len(t, c.Points, 1)
	assert.Equal(t, "out", c.Points[0].Class)
	assert.True(t, c.Points[0].Wire)
	assert.Contains(t, c.Points[0].Title, "the policy allows 100 ms to 200 ms: outside policy (from the wire)")
	require.Len(t, c.Bands, 1)
	assert.Equal(t, "attempt 1: the policy allows 100 ms to 200 ms", c.Bands[0].Title)
	contains(t, render(t, &result.Result{Scenarios: []result.Scenario{s}}), `<circle class="d-out wire"`)

	s.Measured.Delays = []result.Delay{
		{Attempt: 1, DelayMS: 150, LoMS: 100, HiMS: 200, InPolicy: false},
		{Attempt: 2, DelayMS: 450, LoMS: 200, HiMS: 400, InPolicy: true}, // within the allowance for the wire
	}
	c = buildBackoff(&s)
	assert.Equal(t, "out", c.Points[0].Class, "in its band but not in policy: the result decides")
	assert.Equal(t, "in", c.Points[1].Class, "over its band but in policy: the result decides")

	// A delay that honoured a server hint is drawn apart, over its hint.
	s.Measured.Delays = []result.Delay{{Attempt: 1, DelayMS: 5000, HintMS: 4000, InPolicy: true}, {Attempt: 1, DelayMS: 150, LoMS: 100, HiMS: 200, InPolicy: true}}
	c = buildBackoff(&s)
	assert.Equal(t, 1, c.Hinted)
	assert.Equal(t, "hint", c.Points[0].Class)
	require.Len(t, c.Hints, 1)
	require.Len(t, c.Bands, 1, "no band for the hinted delay")
	assert.Greater(t, c.Points[0].CX, c.Points[1].CX, "hinted delays to the right of their slot")

	// Without a profile the policy is not stated, but the bands are drawn.
	s.Profile = nil
	c = buildBackoff(&s)
	assert.Empty(t, c.Policy)
	assert.Len(t, c.Bands, 1)
}

func TestCountAxis(t *testing.T) {
	for top, want := range map[float64][2]float64{0.5: {1, 1}, 6: {2, 6}, 10: {2, 10}, 15: {5, 15}, 90: {25, 100}, 1e6: {250000, 1e6}} {
		step, end := countAxis(top)
		assert.Equal(t, want, [2]float64{step, end}, "top %g", top)
	}
}

func TestCDFLabelsClearTheAxis(t *testing.T) {
	pts := []result.CDFPoint{{MS: 100, Fraction: 0.5}, {MS: 3000, Fraction: 1}}
	c := drawCDF(pts, []cdfMarkAt{{p: 50, ms: 100, frac: 0.5}, {p: 99, ms: 3000, frac: 1}}, nil, 0)
	require.Len(t, c.Marks, 2)
	assert.Equal(t, "start", c.Marks[0].Anchor, "p50 near the y axis: labelled to its right")
	assert.Equal(t, "end", c.Marks[1].Anchor)
}

func TestProfileText(t *testing.T) {
	assert.Equal(t, "ping every 200 ms, pong within 150 ms · handshake within 500 ms · ack within 1,000 ms · backoff 150 ms ×2 per attempt up to 1,000 ms, jitter 50%", profileText(refProfile()))
	assert.Equal(t, "no heartbeat · backoff 0 ms ×0 per attempt up to 0 ms, jitter 0%", profileText(&result.Profile{}))
	assert.Empty(t, profileText(nil))
}
