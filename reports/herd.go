package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wschaos/wschaos/result"
)

// maxHerdBars bounds the windows drawn in the dial histogram.
const maxHerdBars = 2000

// buildHerd draws the dials per window the spread holds, on the timeline's
// time axis when there is one (else on its own), with the fault windows
// shaded: each client's first dial at or after the fault's end, the one
// the herd check holds, apart from the other dials, and the herd limit
// across. Nil when there are no dials or no window.
func buildHerd(s *result.Scenario, sp *result.Spread, tl *timeline) *histChart {
	if !(sp.WindowMS > 0) || !finite(sp.WindowMS) || !finite(sp.FromMS) {
		return nil
	}
	first, other := bucketCounts(sp.FirstDials), bucketCounts(sp.OtherDials)
	keys := make([]int, 0, len(first)+len(other))
	for k := range first {
		keys = append(keys, k)
	}
	for k := range other {
		if _, dup := first[k]; !dup {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = keys[:min(len(keys), maxHerdBars)]
	start := func(k int) float64 { return sp.FromMS + float64(k)*sp.WindowMS }
	c := &histChart{W: tlWidth, H: histH, X0: f1(tlPlotX0), X1: f1(tlPlotX1), Top: f1(histTop), Bottom: f1(histBottom),
		Window: fmtMS(sp.WindowMS), AxisTitleX: f1(tlPlotX1), AxisTitleY: f1(histH - 4)}
	var ax timeAxis
	if tl != nil {
		ax, c.XTicks = tl.timeAxis, tl.Ticks
	} else {
		var step float64
		ax, step = herdAxis(s.Faults, start(keys[0]), start(keys[len(keys)-1])+sp.WindowMS)
		c.XTicks = ax.ticks(step)
	}
	top := 1.0
	for _, k := range keys {
		top = max(top, float64(first[k]+other[k]))
	}
	if sp.HerdLimit > 0 && finite(sp.HerdLimit) {
		top = max(top, sp.HerdLimit*1.15)
	}
	step, top := countAxis(min(top, far))
	y := func(v float64) float64 { return histBottom - v/top*(histBottom-histTop) }
	c.YTicks = ticks(top, step, 10, y)
	for _, f := range s.Faults {
		if finite(f.StartMS) && finite(f.EndMS) {
			x0, x1 := ax.x(min(f.StartMS, f.EndMS)), ax.x(max(f.StartMS, f.EndMS))
			c.Faults = append(c.Faults, rectView{X: f1(x0), W: f1(max(x1-x0, 1.5)), Y: f1(histTop), H: f1(histBottom - histTop),
				Title: fmt.Sprintf("%s %s → %s", f.Kind, fmtMS(f.StartMS), fmtMS(f.EndMS))})
		}
	}
	var fp, op strings.Builder
	for _, k := range keys {
		x0, x1 := ax.x(start(k)), ax.x(start(k)+sp.WindowMS)
		w := max(1, x1-x0-1)
		barPath(&fp, x0, w, y(0), y(float64(first[k])))
		barPath(&op, x0, w, y(float64(first[k])), y(float64(first[k]+other[k])))
	}
	c.First, c.Other = fp.String(), op.String()
	if sp.HerdLimit > 0 && finite(sp.HerdLimit) {
		ly := y(sp.HerdLimit)
		c.Limit = &hline{Y: f1(ly), X1: f1(tlPlotX0), X2: f1(tlPlotX1), LX: f1(tlPlotX1 - 4), LY: f1(ly - 4),
			Label: fmt.Sprintf("%s limit: %s per %s", herdCheck, num(sp.HerdLimit), fmtMS(sp.WindowMS))}
	}
	if chk := checkNamed(s, herdCheck); chk != nil {
		c.CheckClass, c.CheckGot = verdictClass(chk), chk.Got
	}
	return c
}

// bucketCounts indexes a histogram's counts by window.
func bucketCounts(bs []result.Bucket) map[int]int {
	m := make(map[int]int, len(bs))
	for _, b := range bs {
		m[b.Index] += max(b.Count, 0)
	}
	return m
}

// herdAxis is the time axis of a histogram drawn without a timeline: the
// windows from first to last and the faults.
func herdAxis(faults []result.Fault, first, last float64) (timeAxis, float64) {
	var d domain
	d.grow(first)
	d.grow(last)
	for _, f := range faults {
		d.grow(f.StartMS)
		d.grow(f.EndMS)
	}
	return newTimeAxis(d.lo, d.hi)
}
