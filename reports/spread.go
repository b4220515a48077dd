package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/wschaos/wschaos/result"
)

// How a scenario with many clients spread out, as Measured.Spread holds
// it: percentiles of the per-client figures, the recovery CDF and the dials
// per window against the herd limit.

// CDF chart geometry, in SVG user units.
const (
	cdfW, cdfH   = 560.0, 210.0
	cdfX0, cdfX1 = 48.0, 540.0
	cdfY0, cdfY1 = 14.0, 172.0
	histH        = 170.0
	histTop      = 14.0
	histBottom   = 132.0
	// herdCheck names the check that holds the first dials per window.
	herdCheck = "herd-spread"
)

type spread struct {
	Clients   int
	Recovered int
	// Missing counts the clients that never recovered.
	Missing int
	Stats   []pctRow
	CDF     *cdfChart
	Herd    *histChart
}

type pctRow struct {
	What                string
	N                   int
	P50, P90, P99, Max  string
	Budget, BudgetClass string
}

type cdfChart struct {
	// Title heads the chart; XTitle names its axes.
	Title, XTitle          string
	W, H                   float64
	X0, X1, Y0, Y1         string
	Path                   string
	XTicks, YTicks         []tick
	Marks                  []cdfMark
	Budget                 *vline
	AxisTitleX, AxisTitleY string
	Missing                int
	// top and step are the x axis's end and tick step in ms, for a chart
	// drawn below on the same axis.
	top, step float64
}

type cdfMark struct {
	CX, CY, LX, LY string
	Label, Anchor  string
}

type vline struct {
	X, Top, Bottom string
	LX, LY         string
	Label          string
	Anchor         string
}

type histChart struct {
	W, H                   float64
	X0, X1, Top, Bottom    string
	Faults                 []rectView
	First, Other           string // bar path data: first dials after the fault end, the rest
	XTicks, YTicks         []tick
	Limit                  *hline
	Window                 string
	AxisTitleX, AxisTitleY string
	// Check is the herd-spread check's verdict class and what it got.
	CheckClass, CheckGot string
}

type hline struct {
	Y, X1, X2 string
	Label     string
	LX, LY    string
}

// buildSpread lays out s.Measured.Spread; nil when the result has none.
// tl gives the time axis the dial histogram shares, when there is one.
func buildSpread(s *result.Scenario, tl *timeline) *spread {
	sp := s.Measured.Spread
	if sp == nil {
		return nil
	}
	v := &spread{Clients: sp.Clients, Recovered: sp.Recovered, Missing: max(0, sp.Clients-sp.Recovered)}
	row := func(what string, d result.Distribution, format func(float64) string, name string) {
		if d.N <= 0 {
			return
		}
		r := pctRow{What: what, N: d.N, P50: format(d.P50), P90: format(d.P90), P99: format(d.P99), Max: format(d.Max)}
		if lim, ok := targetLimit(s, name); ok && name != "" {
			r.Budget, r.BudgetClass = format(lim), verdictClass(checkNamed(s, name))
		}
		v.Stats = append(v.Stats, r)
	}
	row("detection", sp.Detect, fmtMS, "detect")
	row("recovery", sp.Recover, fmtMS, "recover")
	row("attempts", sp.Attempts, num, "")
	v.CDF = buildCDF(s, sp, v.Missing)
	v.Herd = buildHerd(s, sp, tl)
	return v
}

// buildCDF draws the share of all clients recovered against time since
// the fault's end, as RecoverCDF holds it, with the recovery percentiles
// marked on the curve and the recover budget across it.
func buildCDF(s *result.Scenario, sp *result.Spread, missing int) *cdfChart {
	pts := cdfPoints(sp.RecoverCDF)
	if len(pts) == 0 {
		return nil
	}
	marks := percentileMarks(pts, sp.Recover)
	var budget *cdfBudget
	if limit, ok := targetLimit(s, "recover"); ok {
		budget = &cdfBudget{ms: limit, label: "recover budget"}
	}
	c := drawCDF(pts, marks, budget, 0)
	c.Title = "Recovery time, cumulative"
	c.XTitle = "recovery time after the fault's end (ms) → share of clients recovered"
	c.Missing = missing
	return c
}

// percentileMarks places d's p50, p90 and p99 on the curve through pts,
// where the curve reads at each: the figures are the result's, the height
// is where the drawn curve stands.
func percentileMarks(pts []result.CDFPoint, d result.Distribution) []cdfMarkAt {
	if d.N <= 0 {
		return nil
	}
	var marks []cdfMarkAt
	for _, m := range []cdfMarkAt{{p: 50, ms: d.P50}, {p: 90, ms: d.P90}, {p: 99, ms: d.P99}} {
		if f, ok := fractionAt(pts, m.ms); ok {
			m.frac = f
			marks = append(marks, m)
		}
	}
	return marks
}

// fractionAt reads the curve through pts at ms: the fraction of the last
// point at or before it.
func fractionAt(pts []result.CDFPoint, ms float64) (float64, bool) {
	if !finite(ms) {
		return 0, false
	}
	f, ok := 0.0, false
	for _, p := range pts {
		if p.MS > ms {
			break
		}
		f, ok = p.Fraction, true
	}
	return f, ok
}

// cdfMarkAt is a percentile to mark on a CDF: p% of the clients at or
// below ms, which is frac of the whole.
type cdfMarkAt struct{ p, ms, frac float64 }

// cdfBudget is a limit to draw across a CDF: a vertical line at ms, with
// label and the limit after it.
type cdfBudget struct {
	ms    float64
	label string
}

// drawCDF draws a step curve through pts (sorted by time, fractions in
// [0, 1]), the marks on it and the budget, if any, on an x axis from 0 that
// reaches past the last point and the budget, and holds span ms at least.
// Times are clamped to [0, 1e12] so the axis arithmetic stays exact.
func drawCDF(pts []result.CDFPoint, marks []cdfMarkAt, budget *cdfBudget, span float64) *cdfChart {
	c := &cdfChart{W: cdfW, H: cdfH, X0: f1(cdfX0), X1: f1(cdfX1), Y0: f1(cdfY0), Y1: f1(cdfY1),
		AxisTitleX: f1(cdfX1), AxisTitleY: f1(cdfH - 4)}
	clamp := func(v float64) float64 { return max(0, min(v, far)) }
	last, limit := 0.0, 0.0
	if len(pts) > 0 {
		last = clamp(pts[len(pts)-1].MS)
	}
	top := max(last, clamp(span))
	if budget != nil {
		limit = clamp(budget.ms)
		top = max(top, limit)
	}
	if top <= 0 {
		top = 1
	}
	step := niceStep(top, 6)
	top = math.Ceil(top/step) * step
	if top <= last || (budget != nil && top <= limit) {
		top += step // room right of the last step
	}
	c.top, c.step = top, step
	x := func(v float64) float64 { return cdfX0 + clamp(v)/top*(cdfX1-cdfX0) }
	y := func(frac float64) float64 { return cdfY1 - frac*(cdfY1-cdfY0) }
	c.XTicks = ticks(top, step, 12, x)
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.YTicks = append(c.YTicks, tick{X: f1(y(q)), Label: strconv.Itoa(int(q*100)) + "%"})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", f1(x(0)), f1(y(0)))
	for _, p := range pts {
		fmt.Fprintf(&b, "H%sV%s", f1(x(p.MS)), f1(y(p.Fraction)))
	}
	fmt.Fprintf(&b, "H%s", f1(cdfX1))
	c.Path = b.String()
	c.Marks = cdfMarks(marks, x, y, clamp)
	if budget != nil {
		lx := x(limit)
		v := &vline{X: f1(lx), Top: f1(cdfY0), Bottom: f1(cdfY1), LX: f1(lx + 4), LY: f1(cdfY1 - 6),
			Label: budget.label + " " + fmtMS(limit)}
		if lx > cdfX1-150 {
			v.LX, v.Anchor = f1(lx-4), "end"
		}
		c.Budget = v
	}
	return c
}

// cdfMarks places percentile marks on the curve, labelled above and to
// their left, where a rising curve leaves room, or below and to their
// right when that would run into the y axis's labels.
func cdfMarks(marks []cdfMarkAt, x, y, clamp func(float64) float64) []cdfMark {
	var out []cdfMark
	for _, m := range marks {
		cx, cy := x(m.ms), y(m.frac)
		mk := cdfMark{CX: f1(cx), CY: f1(cy), LX: f1(cx - 5), LY: f1(max(cy-4, 10)), Anchor: "end",
			Label: fmt.Sprintf("p%s %s", num(m.p), fmtMS(clamp(m.ms)))}
		if cx-5-charW*float64(len([]rune(mk.Label))) < cdfX0-6 {
			mk.LX, mk.LY, mk.Anchor = f1(cx+6), f1(min(cy+12, cdfY1-3)), "start"
		}
		out = append(out, mk)
	}
	// Labels closer than a line apart would overlap: keep the higher one.
	for i := len(out) - 1; i > 0; i-- {
		a, _ := strconv.ParseFloat(out[i-1].CY, 64)
		b, _ := strconv.ParseFloat(out[i].CY, 64)
		if a-b < 11 {
			out[i-1].Label = ""
		}
	}
	return out
}

// ticks labels 0, step, 2·step … up to top (at most n+1 of them), each at
// pos(value).
func ticks(top, step float64, n int, pos func(float64) float64) []tick {
	var out []tick
	for i := 0; i <= n; i++ {
		v := float64(i) * step
		if v > top+step/2 {
			break
		}
		out = append(out, tick{X: f1(pos(v)), Label: num(v)})
	}
	return out
}

// countAxis returns a whole-number tick step for a count axis that must
// reach top, about four ticks, and the axis's end rounded up to a step.
func countAxis(top float64) (step, end float64) {
	step = max(1, math.Floor(niceStep(top, 4)))
	return step, math.Ceil(top/step) * step
}

// barPath appends to b a bar from x0, w wide, between the heights y0 and
// y1 (SVG units), when there is one to draw.
func barPath(b *strings.Builder, x0, w, y0, y1 float64) {
	if y0 != y1 {
		fmt.Fprintf(b, "M%s %sh%sV%sh-%sz", f1(x0), f1(y0), f1(w), f1(y1), f1(w))
	}
}

// cdfPoints returns pts fit to draw: finite, sorted by time, fractions in
// [0, 1] and never falling, at most maxCDFPoints of them (the last kept).
func cdfPoints(pts []result.CDFPoint) []result.CDFPoint {
	out := make([]result.CDFPoint, 0, min(len(pts), maxCDFPoints))
	for _, p := range pts {
		if finite(p.MS) && finite(p.Fraction) {
			out = append(out, result.CDFPoint{MS: p.MS, Fraction: max(0, min(p.Fraction, 1))})
		}
	}
	slices.SortStableFunc(out, func(a, b result.CDFPoint) int {
		return cmp.Or(cmp.Compare(a.MS, b.MS), cmp.Compare(a.Fraction, b.Fraction))
	})
	for i := 1; i < len(out); i++ {
		out[i].Fraction = max(out[i].Fraction, out[i-1].Fraction)
	}
	if step := (len(out) + maxCDFPoints - 1) / maxCDFPoints; step > 1 {
		thin := out[:0]
		for i := step - 1; i < len(out); i += step {
			thin = append(thin, out[i])
		}
		if last := out[len(out)-1]; thin[len(thin)-1] != last {
			thin = append(thin, last)
		}
		out = thin
	}
	return out
}
