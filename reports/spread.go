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
	W, H                   float64
	X0, X1, Y0, Y1         string
	Path                   string
	XTicks, YTicks         []tick
	Marks                  []cdfMark
	Budget                 *vline
	AxisTitleX, AxisTitleY string
	Missing                int
}

type cdfMark struct {
	CX, CY, LX, LY string
	Label          string
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
	for i, v := range rec {
		rec[i] = max(0, min(v, 1e12))
	}
	c := &cdfChart{W: cdfW, H: cdfH, X0: f1(cdfX0), X1: f1(cdfX1), Y0: f1(cdfY0), Y1: f1(cdfY1),
		AxisTitleX: f1(cdfX1), AxisTitleY: f1(cdfH - 4), Missing: n - len(rec)}
	top := rec[len(rec)-1]
	limit, hasLimit := targetLimit(s, "recover")
	if hasLimit {
		limit = max(0, min(limit, 1e12))
		top = max(top, limit)
	}
	if top <= 0 {
		top = 1
	}
	step := niceStep(top, 6)
	top = math.Ceil(top/step) * step
	if top <= rec[len(rec)-1] || (hasLimit && top <= limit) {
		top += step // room right of the last step
	}
	x := func(v float64) float64 { return cdfX0 + v/top*(cdfX1-cdfX0) }
	y := func(frac float64) float64 { return cdfY1 - frac*(cdfY1-cdfY0) }
	for i := 0; i <= 12; i++ {
		v := float64(i) * step
		if v > top+step/2 {
			break
		}
		c.XTicks = append(c.XTicks, tick{X: f1(x(v)), Label: num(v)})
	}
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.YTicks = append(c.YTicks, tick{X: f1(y(q)), Label: strconv.Itoa(int(q*100)) + "%"})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", f1(x(0)), f1(y(0)))
	for i, v := range rec {
		// Equal times make one step: draw only the last of them.
		if i+1 < len(rec) && rec[i+1] == v {
			continue
		}
		fmt.Fprintf(&b, "H%sV%s", f1(x(v)), f1(y(float64(i+1)/float64(n))))
	}
	fmt.Fprintf(&b, "H%s", f1(cdfX1))
	c.Path = b.String()
	// Percentile marks on the curve, labelled above and to their left,
	// where a rising curve leaves room. They count over every client, so a percentile
	// beyond the recovered share is not drawn.
	for _, p := range []float64{50, 90, 99} {
		k := int(math.Ceil(p / 100 * float64(n)))
		if k < 1 || k > len(rec) {
			continue
		}
		v := rec[k-1]
		cy := y(float64(k) / float64(n))
		c.Marks = append(c.Marks, cdfMark{CX: f1(x(v)), CY: f1(cy), LX: f1(x(v) - 5), LY: f1(max(cy-4, 10)),
			Label: fmt.Sprintf("p%s %s", num(p), fmtMS(v))})
	}
	// Labels closer than a line apart would overlap: keep the higher one.
	for i := len(c.Marks) - 1; i > 0; i-- {
		a, _ := strconv.ParseFloat(c.Marks[i-1].CY, 64)
		b, _ := strconv.ParseFloat(c.Marks[i].CY, 64)
		if a-b < 11 {
			c.Marks[i-1].Label = ""
		}
	}
	if hasLimit {
		lx := x(limit)
		v := &vline{X: f1(lx), Top: f1(cdfY0), Bottom: f1(cdfY1), LX: f1(lx + 4), LY: f1(cdfY1 - 6),
			Label: "recover budget " + fmtMS(limit)}
		if lx > cdfX1-150 {
			v.LX, v.Anchor = f1(lx-4), "end"
		}
		c.Budget = v
	}
	return c
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
	step := max(1, niceStep(top, 4))
	top = math.Ceil(top/step) * step
	y := func(v float64) float64 { return histBottom - v/top*(histBottom-histTop) }
	for i := 0; i <= 10; i++ {
		v := float64(i) * step
		if v > top+step/2 {
			break
		}
		c.YTicks = append(c.YTicks, tick{X: f1(y(v)), Label: num(v)})
	}
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
		bar := func(b *strings.Builder, from, to float64) {
			if to > from {
				fmt.Fprintf(b, "M%s %sh%sV%sh-%sz", f1(x0), f1(y(from)), f1(w), f1(y(to)), f1(w))
			}
		}
		bar(&fp, 0, float64(first[k]))
		bar(&op, float64(first[k]), float64(first[k]+other[k]))
	}
	c.First, c.Other = fp.String(), op.String()
	if hasLimit {
		ly := y(limit)
		c.Limit = &hline{Y: f1(ly), X1: f1(tlPlotX0), X2: f1(tlPlotX1), LX: f1(tlPlotX1 - 4), LY: f1(ly - 4),
			Label: fmt.Sprintf("%s limit: %s per %s", herdCheck, num(limit), fmtMS(window))}
	}
	return c
}
