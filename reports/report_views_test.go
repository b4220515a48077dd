package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func render(t *testing.T, r *Result) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, r))
	return buf.String()
}

func TestMatrixCells(t *testing.T) {
	p := buildPage(fixedResult())
	m := p.Matrix
	require.NotNil(t, m)
	var names []string
	for _, c := range m.Columns {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"reference", "slow-heartbeat", "no-heartbeat", "no-jitter"}, names, "Result.Clients order")
	var rows []string
	for _, r := range m.Rows {
		rows = append(rows, r.Name)
	}
	assert.Equal(t, []string{"BlackHole", "PongWithheld", "Logout4001", "MassDrop"}, rows)

	cell := func(row, col int) matrixCell { return m.Rows[row].Cells[col] }
	assert.Equal(t, matrixCell{ID: "s-BlackHole--reference", Class: cellPass, Pre: "rec", Text: "262 ms",
		Title: "BlackHole × reference: passed · detect 312.4 ms, recover 262 ms"}, cell(0, 0))
	assert.Equal(t, cellFail, cell(1, 1).Class)
	assert.Equal(t, "detect +1", cell(1, 1).Text, "first failed check, and how many more")
	assert.Equal(t, cellCaught, cell(0, 2).Class, "a mutant failing is caught")
	assert.Equal(t, "detect +1", cell(0, 2).Text)
	assert.Equal(t, cellMissed, cell(2, 2).Class, "a mutant passing is neutral")
	assert.Equal(t, cellNotRun, cell(3, 2).Class)
	assert.Empty(t, cell(3, 2).ID, "nothing to link to")
	assert.Equal(t, "✓", cell(2, 0).Text, "no figure to show")

	assert.Equal(t, "3/3", m.Columns[0].Status)
	assert.Equal(t, "✓ caught", m.Columns[2].Status)
	assert.Equal(t, "by 2 of 3", m.Columns[2].Sub)
	assert.Equal(t, "✗ not caught", m.Columns[3].Status)
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
	assert.Equal(t, []string{"reference", "slow-heartbeat", "no-heartbeat", "no-jitter"}, names, "order of first appearance")
	// Without Result.Clients nothing is known to be a mutant: every run is
	// drawn in full and a failure is a failure.
	assert.Zero(t, p.Compact)
	assert.Equal(t, cellFail, p.Matrix.Rows[0].Cells[2].Class)
}

func TestNoMatrixForOneClient(t *testing.T) {
	r := fixedResult()
	r.Clients = nil
	r.Scenarios = []Scenario{blackHole(), logout()}
	html := render(t, r)
	notContains(t, html, `id="matrix"`)
	notContains(t, html, `class="group"`)
	contains(t, html, `id="s-Logout4001--reference"`)
}

func TestSectionsGroupedByClient(t *testing.T) {
	p := buildPage(fixedResult())
	var order []string
	for _, s := range p.Sections {
		order = append(order, s.ID)
	}
	assert.Equal(t, []string{
		"s-BlackHole--reference", "s-Logout4001--reference", "s-MassDrop--reference",
		"s-PongWithheld--slow-heartbeat",
		"s-BlackHole--no-heartbeat", "s-PongWithheld--no-heartbeat", "s-Logout4001--no-heartbeat",
		"s-BlackHole--no-jitter", "s-MassDrop--no-jitter",
	}, order)
	var groups []string
	for _, s := range p.Sections {
		if s.Group != nil {
			groups = append(groups, s.Group.ID)
		}
	}
	assert.Equal(t, []string{"c-reference", "c-slow-heartbeat", "c-no-heartbeat", "c-no-jitter"}, groups)
	assert.Equal(t, 3, p.Sections[4].Group.Runs)
	assert.Equal(t, 1, p.Sections[4].Group.Full)
}

func TestSpreadFromTimeline(t *testing.T) {
	s := massDrop()
	sp := buildSpread(&s, buildTimeline(&s))
	require.NotNil(t, sp)
	assert.True(t, sp.FromTimeline)
	assert.Equal(t, 8, sp.Clients)
	assert.Equal(t, 8, sp.Recovered)
	require.Len(t, sp.Stats, 3)
	rec := sp.Stats[1]
	assert.Equal(t, "recovery", rec.What)
	// The worst client is what the scenario reports as its recovery.
	assert.Equal(t, fmtMS(*s.Measured.RecoverMS), rec.Max)
	assert.Equal(t, "ok", rec.BudgetClass)
	require.NotNil(t, sp.CDF)
	assert.Zero(t, sp.CDF.Missing)
	require.NotNil(t, sp.Herd)
	assert.Equal(t, 8, sp.Herd.Firsts)
	require.NotNil(t, sp.Herd.Limit)
	assert.Equal(t, "herd-spread limit: 3 per 100 ms", sp.Herd.Limit.Label)
	assert.False(t, sp.Herd.Over)

	one := blackHole()
	assert.Nil(t, buildSpread(&one, buildTimeline(&one)), "one client: nothing to spread")
}

func TestSpreadFromPerClient(t *testing.T) {
	s := massDrop()
	s.Measured.PerClient = nil
	for i, v := range []float64{100, 200, 300, 400, 500, 600, 700, 800, 900} {
		f := ClientFigure{Client: "x" + string(rune('a'+i)), RecoverMS: ptr(v), DetectMS: ptr(v / 10), Attempts: i}
		s.Measured.PerClient = append(s.Measured.PerClient, f)
	}
	s.Measured.PerClient = append(s.Measured.PerClient, ClientFigure{Client: "never"})
	sp := buildSpread(&s, buildTimeline(&s))
	require.NotNil(t, sp)
	assert.False(t, sp.FromTimeline)
	assert.Equal(t, 10, sp.Clients)
	assert.Equal(t, 9, sp.Recovered)
	rec := sp.Stats[1]
	assert.Equal(t, pctRow{What: "recovery", N: 9, P50: "500 ms", P90: "900 ms", P99: "900 ms", Max: "900 ms", Budget: "900 ms", BudgetClass: "ok"}, rec)
	assert.Equal(t, 1, sp.CDF.Missing, "the client that never recovered keeps the curve below 100%")
	html := render(t, &Result{Scenarios: []Scenario{s}})
	contains(t, html, "1 client never recovered")
	contains(t, html, "9 of 10 clients recovered")
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, 5.0, percentile(v, 50))
	assert.Equal(t, 9.0, percentile(v, 90))
	assert.Equal(t, 10.0, percentile(v, 99))
	assert.Equal(t, 7.0, percentile([]float64{7}, 50))
}

func TestHerdLimit(t *testing.T) {
	for _, tc := range []struct {
		want      string
		limit, ms float64
		ok        bool
	}{
		{"<= 20 per 100ms", 20, 100, true},
		{"<= 3 per 250ms", 3, 250, true},
		{"<=7 per 1s", 7, 1000, true},
		{"at most 20", 0, 0, false},
		{"<= 20 per fortnight", 0, 0, false},
	} {
		s := Scenario{Checks: []Check{{Name: "herd-spread", Want: tc.want}}}
		l, w, ok := herdLimit(&s)
		assert.Equal(t, tc.ok, ok, tc.want)
		assert.Equal(t, tc.limit, l, tc.want)
		assert.Equal(t, tc.ms, w, tc.want)
	}
}

func TestBackoffEnvelope(t *testing.T) {
	p := &BackoffPolicy{InitialMS: 100, MaxMS: 1000, Multiplier: 2, Jitter: 0.5}
	for n, want := range map[int][2]float64{0: {50, 100}, 1: {50, 100}, 2: {100, 200}, 4: {400, 800}, 5: {500, 1000}, 1e6: {500, 1000}} {
		lo, hi := p.envelope(n)
		assert.Equal(t, want, [2]float64{lo, hi}, "attempt %d", n)
	}
	flat := &BackoffPolicy{InitialMS: 300, MaxMS: 300, Multiplier: 1, Jitter: 0}
	lo, hi := flat.envelope(9)
	assert.Equal(t, [2]float64{300, 300}, [2]float64{lo, hi})
	assert.False(t, (&BackoffPolicy{InitialMS: 100, MaxMS: 1000, Multiplier: 0.5, Jitter: 0.5}).usable())
	assert.False(t, (*BackoffPolicy)(nil).usable())
}

func TestBackoffChart(t *testing.T) {
	s := pongWithheld()
	c := buildBackoff(&s)
	require.NotNil(t, c)
	assert.Equal(t, 1, c.Outside, "80 ms is below the 100 to 200 ms the policy allows for retry 1")
	require.Len(t, c.Points, 1)
	assert.Equal(t, "out", c.Points[0].Class)
	assert.Contains(t, c.Points[0].Title, "outside the policy's 100 ms to 200 ms")

	// A delay that honoured a server hint is held to the hint, not the policy.
	s.Timeline = []Event{{TMS: 1, Source: "client", Kind: "backoff", Attempt: 1, DelayMS: 5000, HintMS: 4000}}
	c = buildBackoff(&s)
	assert.Zero(t, c.Outside)
	assert.Equal(t, 1, c.Hinted)
	assert.Equal(t, "hint", c.Points[0].Class)

	// Without events the announced delays are numbered from 1, and without
	// a policy no envelope is drawn.
	s.Timeline, s.Policy = nil, nil
	s.Measured.DelaysMS = []float64{10, 20}
	c = buildBackoff(&s)
	assert.Empty(t, c.Bands)
	assert.Empty(t, c.Policy)
	assert.Equal(t, 2, c.Shown)
	assert.True(t, strings.Contains(render(t, &Result{Scenarios: []Scenario{s}}), "no backoff policy"))
}

func TestCountAxis(t *testing.T) {
	for top, want := range map[float64][2]float64{0.5: {1, 1}, 6: {2, 6}, 10: {2, 10}, 15: {5, 15}, 90: {25, 100}, 1e6: {250000, 1e6}} {
		step, end := countAxis(top)
		assert.Equal(t, want, [2]float64{step, end}, "top %g", top)
	}
}

func TestCDFLabelsClearTheAxis(t *testing.T) {
	pts := []CDFPoint{{MS: 100, Fraction: 0.5}, {MS: 3000, Fraction: 1}}
	c := drawCDF(pts, []cdfMarkAt{{p: 50, ms: 100, frac: 0.5}, {p: 99, ms: 3000, frac: 1}}, nil, 0)
	require.Len(t, c.Marks, 2)
	assert.Equal(t, "start", c.Marks[0].Anchor, "p50 near the y axis: labelled to its right")
	assert.Equal(t, "end", c.Marks[1].Anchor)
}
