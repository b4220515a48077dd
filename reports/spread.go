package reports

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// How a scenario with many clients spread out: percentiles of the
// per-client figures, a CDF of recovery times and a histogram of redials
// per window, against the herd-spread limit.

// CDF chart geometry, in SVG user units.
const (
	cdfW, cdfH   = 560.0, 210.0
	cdfX0, cdfX1 = 48.0, 540.0
	cdfY0, cdfY1 = 14.0, 172.0
	histH        = 170.0
	histTop      = 14.0
	histBottom   = 132.0
	herdCheck    = "herd-spread"
	herdWindowMS = 100.0 // the histogram's window when no herd-spread check says otherwise
)

type spread struct {
	Clients   int
	Recovered int
	// FromTimeline says the figures were worked out from the timeline
	// because the result has no Measured.PerClient.
	FromTimeline bool
	Stats        []pctRow
	CDF          *cdfChart
	Herd         *histChart
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
	First, Other           string // bar path data: first redials after the fault end, the rest
	XTicks, YTicks         []tick
	Limit                  *hline
	Window                 string
	AxisTitleX, AxisTitleY string
	Dials, Firsts          int
	Worst                  int
	Over                   bool
}

type hline struct {
	Y, X1, X2 string
	Label     string
	LX, LY    string
}

// clientFigures are one client's figures, from Measured.PerClient or the
// timeline.
type clientFigures struct {
	client          string
	detect, recover *float64
	attempts        int
}

// faultSpan is the earliest fault start (or issue) and the latest fault end,
// as the harness measures from them.
func faultSpan(s *Scenario) (start, end float64, ok bool) {
	start, end = math.Inf(1), math.Inf(-1)
	for _, f := range s.Faults {
		if !finite(f.StartMS) || !finite(f.EndMS) {
			continue
		}
		st := f.StartMS
		if f.IssuedMS > 0 && finite(f.IssuedMS) && f.IssuedMS < st {
			st = f.IssuedMS
		}
		start, end = min(start, st), max(end, f.EndMS)
	}
	return start, end, start <= end
}

// clientIDs lists the ids of the clients with events, in natural order.
func clientIDs(s *Scenario) []string {
	seen := map[string]bool{}
	var ids []string
	for i := range s.Timeline {
		if e := &s.Timeline[i]; e.Source == "client" && !seen[e.Client] {
			seen[e.Client] = true
			ids = append(ids, e.Client)
		}
	}
	slices.SortFunc(ids, naturalCompare)
	return ids
}

// Client event kinds, as the client package names them; the harness
// measures from these exactly ("connected" is not yet "ready": the
// hello/welcome round trip is still to come).
const (
	kindDialing      = "dialing"
	kindReady        = "ready"
	kindDisconnected = "disconnected"
	kindFatal        = "fatal"
	kindStopped      = "stopped"
)

// figuresFromTimeline measures each client as the harness does: detection
// is its first loss at or after the fault was issued, counted from the
// first fault's start; recovery its first ready, after that loss, at or
// after the last fault's end (0 if it was already up again then); attempts
// its dials in between.
func figuresFromTimeline(s *Scenario, ids []string) []clientFigures {
	issued, end, ok := faultSpan(s)
	if !ok {
		return nil
	}
	start := issued
	for _, f := range s.Faults {
		if finite(f.StartMS) && finite(f.EndMS) {
			start = f.StartMS // the first fault, as the harness counts
			break
		}
	}
	byClient := map[string][]*Event{}
	for i := range s.Timeline {
		e := &s.Timeline[i]
		if e.Source == "client" && finite(e.TMS) && !strings.Contains(e.Detail, "cause=stopped") {
			byClient[e.Client] = append(byClient[e.Client], e)
		}
	}
	out := make([]clientFigures, 0, len(ids))
	for _, id := range ids {
		evs := byClient[id]
		f := clientFigures{client: id}
		lossAt := issued
		for _, e := range evs {
			if e.Kind == kindDisconnected && e.TMS >= issued {
				lossAt = e.TMS
				f.detect = ptrTo(max(0, e.TMS-start))
				break
			}
		}
		ready, since := false, math.Inf(-1)
		var at *float64
		for _, e := range evs {
			if e.TMS > end {
				if e.Kind == kindReady && e.TMS >= lossAt {
					at = ptrTo(e.TMS)
					break
				}
				continue
			}
			switch e.Kind {
			case kindReady:
				ready, since = true, e.TMS
			case kindDisconnected, kindFatal, kindStopped:
				ready = false
			}
		}
		if at == nil && ready && since >= lossAt {
			at = ptrTo(end)
		}
		by := math.Inf(1)
		if at != nil {
			f.recover = ptrTo(*at - end)
			by = *at
		}
		for _, e := range evs {
			if e.Kind == kindDialing && e.TMS >= issued && e.TMS <= by {
				f.attempts++
			}
		}
		out = append(out, f)
	}
	return out
}

func ptrTo(v float64) *float64 { return &v }

// percentile is the nearest-rank p-th percentile of sorted, which is not
// empty.
func percentile(sorted []float64, p float64) float64 {
	k := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(k, 1), len(sorted))-1]
}

// buildSpread summarises a scenario that ran several clients; nil for one
// that ran fewer than two. tl gives the time axis the histogram shares.
func buildSpread(s *Scenario, tl *timeline) *spread {
	var figs []clientFigures
	sp := &spread{}
	if pc := s.Measured.PerClient; len(pc) > 1 {
		for _, c := range pc {
			figs = append(figs, clientFigures{client: c.Client, detect: c.DetectMS, recover: c.RecoverMS, attempts: c.Attempts})
		}
	} else {
		ids := clientIDs(s)
		if len(ids) < 2 {
			return nil
		}
		sp.FromTimeline = true
		figs = figuresFromTimeline(s, ids)
		if figs == nil {
			// No fault to measure from: nothing to spread but the dials.
			sp.Clients = len(ids)
			sp.Herd = buildHerd(s, tl)
			if sp.Herd == nil {
				return nil
			}
			return sp
		}
	}
	sp.Clients = len(figs)
	var det, rec, att []float64
	for _, f := range figs {
		if f.detect != nil && finite(*f.detect) {
			det = append(det, *f.detect)
		}
		if f.recover != nil && finite(*f.recover) {
			rec = append(rec, *f.recover)
		}
		att = append(att, float64(f.attempts))
	}
	sp.Recovered = len(rec)
	row := func(what string, vals []float64, format func(float64) string, target string) {
		if len(vals) == 0 {
			return
		}
		slices.Sort(vals)
		r := pctRow{What: what, N: len(vals),
			P50: format(percentile(vals, 50)), P90: format(percentile(vals, 90)),
			P99: format(percentile(vals, 99)), Max: format(vals[len(vals)-1])}
		if lim, ok := targetLimit(s, target); ok && target != "" {
			r.Budget, r.BudgetClass = format(lim), "ok"
			if vals[len(vals)-1] > lim {
				r.BudgetClass = "over"
			}
		}
		sp.Stats = append(sp.Stats, r)
	}
	row("detection", det, fmtMS, "detect")
	row("recovery", slices.Clone(rec), fmtMS, "recover")
	row("attempts", att, num, "")
	sp.CDF = buildCDF(s, rec, len(figs))
	sp.Herd = buildHerd(s, tl)
	return sp
}

// buildCDF draws the share of clients recovered against time since the
// last fault's end, a step per client. Clients that never recovered keep
// the curve below 100%.
func buildCDF(s *Scenario, rec []float64, n int) *cdfChart {
	if len(rec) == 0 || n == 0 {
		return nil
	}
	rec = slices.Clone(rec)
	slices.Sort(rec)
	pts := make([]CDFPoint, 0, len(rec))
	for i, v := range rec {
		// Equal times make one step: keep only the last of them.
		if i+1 < len(rec) && rec[i+1] == v {
			continue
		}
		pts = append(pts, CDFPoint{MS: v, Fraction: float64(i+1) / float64(n)})
	}
	// Percentile marks count over every client, so a percentile beyond the
	// recovered share is not drawn.
	var marks []cdfMarkAt
	for _, p := range []float64{50, 90, 99} {
		if k := int(math.Ceil(p / 100 * float64(n))); k >= 1 && k <= len(rec) {
			marks = append(marks, cdfMarkAt{p: p, ms: rec[k-1], frac: float64(k) / float64(n)})
		}
	}
	var budget *cdfBudget
	if limit, ok := targetLimit(s, "recover"); ok {
		budget = &cdfBudget{ms: limit, label: "recover budget"}
	}
	c := drawCDF(pts, marks, budget, 0)
	c.Title = "Recovery time, cumulative"
	c.XTitle = "recovery time after the last fault's end (ms) → share of clients recovered"
	c.Missing = n - len(rec)
	return c
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
func drawCDF(pts []CDFPoint, marks []cdfMarkAt, budget *cdfBudget, span float64) *cdfChart {
	c := &cdfChart{W: cdfW, H: cdfH, X0: f1(cdfX0), X1: f1(cdfX1), Y0: f1(cdfY0), Y1: f1(cdfY1),
		AxisTitleX: f1(cdfX1), AxisTitleY: f1(cdfH - 4)}
	clamp := func(v float64) float64 { return max(0, min(v, 1e12)) }
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
	// Percentile marks on the curve, labelled above and to their left,
	// where a rising curve leaves room, or below and to their right when
	// that would run into the y axis's labels.
	for _, m := range marks {
		cx, cy := x(m.ms), y(m.frac)
		mk := cdfMark{CX: f1(cx), CY: f1(cy), LX: f1(cx - 5), LY: f1(max(cy-4, 10)), Anchor: "end",
			Label: fmt.Sprintf("p%s %s", num(m.p), fmtMS(clamp(m.ms)))}
		if cx-5-charW*float64(len([]rune(mk.Label))) < cdfX0-6 {
			mk.LX, mk.LY, mk.Anchor = f1(cx+6), f1(min(cy+12, cdfY1-3)), "start"
		}
		c.Marks = append(c.Marks, mk)
	}
	// Labels closer than a line apart would overlap: keep the higher one.
	for i := len(c.Marks) - 1; i > 0; i-- {
		a, _ := strconv.ParseFloat(c.Marks[i-1].CY, 64)
		b, _ := strconv.ParseFloat(c.Marks[i].CY, 64)
		if a-b < 11 {
			c.Marks[i-1].Label = ""
		}
	}
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

// herdWant reads the limit and window of a check's Want, such as
// "<= 20 per 100ms".
var herdWant = regexp.MustCompile(`^\s*<=?\s*([0-9]+(?:\.[0-9]+)?)\s*per\s*([0-9.]+\s*[a-zµ]+)\s*$`)

func herdLimit(s *Scenario) (limit, windowMS float64, ok bool) {
	for _, c := range s.Checks {
		if c.Name != herdCheck {
			continue
		}
		m := herdWant.FindStringSubmatch(c.Want)
		if m == nil {
			return 0, 0, false
		}
		l, err1 := strconv.ParseFloat(m[1], 64)
		d, err2 := time.ParseDuration(strings.ReplaceAll(m[2], " ", ""))
		if err1 != nil || err2 != nil || d <= 0 {
			return 0, 0, false
		}
		return l, float64(d) / float64(time.Millisecond), true
	}
	return 0, 0, false
}

// buildHerd draws the clients' dials from the first fault on, per window
// (the herd-spread check's, or 100 ms), on the timeline's time axis, with
// the fault windows shaded. Windows start at the last fault's end, as the
// check counts them, and each client's first dial at or after it, the one
// the check counts, is drawn apart from the other redials. The check's
// limit is drawn across.
func buildHerd(s *Scenario, tl *timeline) *histChart {
	if tl == nil {
		return nil
	}
	start, end, ok := faultSpan(s)
	if !ok {
		return nil
	}
	limit, window, hasLimit := herdLimit(s)
	if !hasLimit {
		window = herdWindowMS
	}
	lo, hi := tl.lo, tl.hi
	x := func(t float64) float64 {
		return tlPlotX0 + (max(lo, min(hi, t))-lo)/(hi-lo)*(tlPlotX1-tlPlotX0)
	}
	first := map[int]int{}
	other := map[int]int{}
	firstDone := map[string]bool{}
	c := &histChart{W: tlWidth, H: histH, X0: f1(tlPlotX0), X1: f1(tlPlotX1), Top: f1(histTop), Bottom: f1(histBottom),
		Window: fmtMS(window), AxisTitleX: f1(tlPlotX1), AxisTitleY: f1(histH - 4)}
	for i := range s.Timeline {
		e := &s.Timeline[i]
		if e.Source != "client" || e.Kind != kindDialing || !finite(e.TMS) || e.TMS < start {
			continue
		}
		k := int(math.Floor((e.TMS - end) / window))
		c.Dials++
		if e.TMS >= end && !firstDone[e.Client] {
			firstDone[e.Client] = true
			first[k]++
			c.Firsts++
		} else {
			other[k]++
		}
	}
	if c.Dials == 0 {
		return nil
	}
	keys := make([]int, 0, len(first)+len(other))
	for k := range first {
		keys = append(keys, k)
	}
	for k := range other {
		if _, dup := first[k]; !dup {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	top := 1.0
	for _, k := range keys {
		top = max(top, float64(first[k]+other[k]))
		c.Worst = max(c.Worst, first[k])
	}
	if hasLimit {
		top = max(top, limit*1.15)
		c.Over = float64(c.Worst) > limit
	}
	step, top := countAxis(top)
	y := func(v float64) float64 { return histBottom - v/top*(histBottom-histTop) }
	c.YTicks = ticks(top, step, 10, y)
	c.XTicks = tl.Ticks
	for _, f := range s.Faults {
		if !finite(f.StartMS) || !finite(f.EndMS) {
			continue
		}
		x0, x1 := x(min(f.StartMS, f.EndMS)), x(max(f.StartMS, f.EndMS))
		c.Faults = append(c.Faults, rectView{X: f1(x0), W: f1(max(x1-x0, 1.5)), Y: f1(histTop), H: f1(histBottom - histTop),
			Title: fmt.Sprintf("%s %s → %s", f.Kind, fmtMS(f.StartMS), fmtMS(f.EndMS))})
	}
	var fp, op strings.Builder
	for _, k := range keys {
		t0 := end + float64(k)*window
		x0, x1 := x(t0), x(t0+window)
		w := max(1, x1-x0-1)
		barPath(&fp, x0, w, y(0), y(float64(first[k])))
		barPath(&op, x0, w, y(float64(first[k])), y(float64(first[k]+other[k])))
	}
	c.First, c.Other = fp.String(), op.String()
	if hasLimit {
		ly := y(limit)
		c.Limit = &hline{Y: f1(ly), X1: f1(tlPlotX0), X2: f1(tlPlotX1), LX: f1(tlPlotX1 - 4), LY: f1(ly - 4),
			Label: fmt.Sprintf("%s limit: %s per %s", herdCheck, num(limit), fmtMS(window))}
	}
	return c
}
