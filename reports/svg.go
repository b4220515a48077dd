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

// Timeline geometry, in SVG user units (the page scales the drawing to its
// width; 1160 fits a 1280 px window with margins).
const (
	tlWidth     = 1160.0
	tlPlotX0    = 168.0 // lane labels live left of this
	tlPlotX1    = tlWidth - 24
	tlTop       = 8.0  // fault labels row
	tlBudgetRow = 22.0 // height of each budget row
	tlLaneH     = 24.0
	tlAxisH     = 40.0
	maxLanes    = 16  // client lanes beyond this fold into one
	maxLabels   = 160 // text labels per timeline
	labelGap    = 6.0 // min space between labels in one lane
	charW       = 6.0 // rough width of one character of a 10-11px label
	maxTitles   = 400 // hover titles per timeline: they are most of the bytes
	// far clamps absurd times (decades), so the axis arithmetic stays exact.
	far = 1e12
)

type timeline struct {
	W, H         float64
	PlotX0       float64
	PlotX1       float64
	PlotTop      float64 // y of the first lane
	PlotBottom   float64 // y below the last lane
	Lanes        []lane
	Ticks        []tick
	Faults       []band
	Budgets      []budget
	Marks        []mark
	Backoffs     []segment
	Rails        []segment
	PingPath     string // every ping tick as one path: thousands stay cheap
	PongPath     string
	TrafficPath  string
	Link         *stepLine
	AxisY        float64
	AxisLabelY   float64
	AxisTitleX   float64
	AxisTitleY   float64
	Folded       int // client lanes folded into the last one
	LabelsCapped bool
	Merged       int // events drawn on top of an earlier one, not again
	// Wire says some events were derived from the wire.
	Wire bool
	// timeAxis is the time domain, so other charts can share the axis.
	timeAxis
}

// timeAxis maps times in [lo, hi] to the plot's width.
type timeAxis struct{ lo, hi float64 }

type lane struct {
	Label   string
	Title   string
	Y, MidY float64
	Odd     bool
}

type tick struct {
	X     string
	Label string
}

type band struct {
	X, W, Y, H string
	LabelX     string
	LabelY     string
	// Anchor is "end" for a label drawn left of its fault, where the
	// drawing's right edge leaves no room after it.
	Anchor    string
	Label     string
	Title     string
	Instant   bool
	ShowLabel bool
}

type budget struct {
	Class            string // "ok", "over" or "na" (no verdict to colour it)
	Name             string
	X0, X1, Y        string
	TickTop, TickBot string
	MarkX            string // the measured moment, "" if none
	LineTop, LineBot string
	// SilenceX is where the client's silence began, "" if not measured.
	SilenceX       string
	Label          string
	LabelX, LabelY string
	Anchor         string // text-anchor, "" for start
	Title          string
}

type mark struct {
	Class string
	// Wire marks an event derived from the wire.
	Wire   bool
	D      string // path data of the marker shape
	Label  string
	LX, LY string
	Title  string
}

type segment struct {
	X1, X2, Y string
	Label     string
	LX, LY    string
	Title     string
}

// stepLine is the link lane's running count of dropped packets.
type stepLine struct {
	D, Title      string
	Label, LX, LY string
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// x maps a time to its x coordinate, clamped to the plot.
func (a timeAxis) x(t float64) float64 {
	t = max(-far, min(far, t))
	v := tlPlotX0 + (t-a.lo)/(a.hi-a.lo)*(tlPlotX1-tlPlotX0)
	return max(tlPlotX0-2, min(tlPlotX1+2, v))
}

// newTimeAxis returns an axis from lo to hi, widened to whole steps of
// about a tenth of the span, and that step.
func newTimeAxis(lo, hi float64) (timeAxis, float64) {
	if hi-lo < 1 {
		hi = lo + 1
	}
	step := niceStep(hi-lo, 10)
	return timeAxis{math.Floor(lo/step) * step, math.Ceil(hi/step) * step}, step
}

// ticks labels the axis every step, at most 41 times.
func (a timeAxis) ticks(step float64) []tick {
	var out []tick
	for i := 0; i <= 40; i++ {
		t := a.lo + float64(i)*step
		if t > a.hi+step/2 {
			break
		}
		out = append(out, tick{X: f1(a.x(t)), Label: num(t)})
	}
	return out
}

// buildTimeline draws s's events in lanes by source, the fault windows
// across them and, above, detection and recovery against their budgets.
// Nil when there is nothing to draw.
func buildTimeline(s *result.Scenario) *timeline {
	events := make([]*result.Event, 0, len(s.Timeline))
	for i := range s.Timeline {
		if finite(s.Timeline[i].TMS) {
			events = append(events, &s.Timeline[i])
		}
	}
	if len(events) == 0 && len(s.Faults) == 0 {
		return nil
	}
	slices.SortStableFunc(events, func(a, b *result.Event) int { return cmp.Compare(a.TMS, b.TMS) })
	spans := budgetSpans(s)
	tl := &timeline{W: tlWidth, PlotX0: tlPlotX0, PlotX1: tlPlotX1}
	step := tl.setDomain(events, s.Faults, spans)
	lanes := planLanes(events, s.Clients > 1)
	tl.layOut(lanes, len(spans), step)
	tl.drawFaults(s.Faults)
	for i := range spans {
		tl.drawBudget(&spans[i], i)
	}
	d := newEventDrawer(tl, lanes)
	for _, e := range events {
		d.draw(e)
	}
	d.finish()
	tl.drawLink(events, lanes)
	return tl
}

// setDomain sets the time axis so that everything drawn fits, and returns
// its tick step.
func (tl *timeline) setDomain(events []*result.Event, faults []result.Fault, spans []span) float64 {
	var d domain
	grow := d.grow
	for _, e := range events {
		grow(e.TMS)
		if e.Kind == result.KindBackoff && e.DelayMS > 0 {
			grow(e.TMS + e.DelayMS)
		}
	}
	for _, f := range faults {
		grow(f.StartMS)
		grow(f.EndMS)
	}
	for _, sp := range spans {
		for _, p := range []*float64{sp.from, sp.at, sp.silenceFrom} {
			if p != nil {
				grow(*p)
			}
		}
		if sp.hasLimit {
			grow(*sp.from + sp.limit)
		}
	}
	var step float64
	tl.timeAxis, step = newTimeAxis(d.lo, d.hi)
	return step
}

// domain is the span of times a drawing must hold; it always holds 0.
type domain struct{ lo, hi float64 }

// grow widens d to hold v, clamped to ±far; a non-finite v is ignored.
func (d *domain) grow(v float64) {
	if finite(v) {
		v = max(-far, min(far, v))
		d.lo, d.hi = min(d.lo, v), max(d.hi, v)
	}
}

// layOut places the budget rows, the lanes and the axis.
func (tl *timeline) layOut(lanes *lanePlan, budgets int, step float64) {
	tl.Folded = lanes.folded
	tl.PlotTop = tlTop + 26 + float64(budgets)*tlBudgetRow
	for i, l := range lanes.labels {
		y := tl.PlotTop + float64(i)*tlLaneH
		tl.Lanes = append(tl.Lanes, lane{Label: clip(l, 24), Title: l, Y: y, MidY: y + tlLaneH/2, Odd: i%2 == 1})
	}
	tl.PlotBottom = tl.PlotTop + float64(max(1, len(lanes.labels)))*tlLaneH
	tl.AxisY = tl.PlotBottom
	tl.AxisLabelY = tl.PlotBottom + 16
	tl.AxisTitleX = tlPlotX1
	tl.AxisTitleY = tl.PlotBottom + 34
	tl.H = tl.PlotBottom + tlAxisH
	tl.Ticks = tl.ticks(step)
}

// drawFaults shades each fault window across every lane, labelled when
// there is room.
func (tl *timeline) drawFaults(faults []result.Fault) {
	lastLabelEnd := -1e9
	for _, f := range faults {
		if !finite(f.StartMS) || !finite(f.EndMS) {
			continue
		}
		x0, x1 := tl.x(min(f.StartMS, f.EndMS)), tl.x(max(f.StartMS, f.EndMS))
		b := band{
			X: f1(x0), W: f1(max(x1-x0, 0)), Y: f1(tlTop + 12), H: f1(tl.PlotBottom - tlTop - 12),
			LabelX: f1(x0 + 3), LabelY: f1(tlTop + 9), Label: clip(f.Kind, 28),
			Instant: x1-x0 < 1.5,
		}
		if b.Instant {
			b.Title = fmt.Sprintf("%s at %s", f.Kind, fmtMS(f.StartMS))
		} else {
			b.Title = fmt.Sprintf("%s %s → %s", f.Kind, fmtMS(f.StartMS), fmtMS(f.EndMS))
		}
		if f.Text != "" {
			b.Title += " · " + f.Text
		}
		if w := 7 * float64(len([]rune(b.Label))); x0 >= lastLabelEnd {
			b.ShowLabel = true
			lastLabelEnd = x0 + w + 12
			if x0+3+w > tlWidth-4 {
				b.LabelX, b.Anchor = f1(x0-3), "end"
			}
		}
		tl.Faults = append(tl.Faults, b)
	}
}

// niceStep returns a 1-2-5 step that cuts span into about n intervals.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	if !(raw > 0) || !finite(raw) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// naturalCompare orders strings with their digit runs compared as numbers,
// so client c2 comes before c10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), cmp.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
