package reports

import (
	"fmt"
	"math"
	"strconv"

	"github.com/wschaos/wschaos/result"
)

// Backoff chart geometry, in SVG user units.
const (
	boW, boH         = 720.0, 200.0
	boX0, boX1       = 56.0, 708.0
	boY0, boY1       = 12.0, 166.0
	maxBackoffPoints = 600
	maxBackoffTries  = 60 // attempts beyond this are counted, not drawn
)

type backoffChart struct {
	W, H           float64
	X0, X1, Y0, Y1 string
	// Bands are the envelopes the delays were held to, Hints the floors
	// server hints set.
	Bands, Hints           []rectView
	Points                 []dot
	YTicks, XLabels        []tick
	AxisTitleX, AxisTitleY string
	// Policy states the profile's backoff policy in words; "" when the
	// result has no profile.
	Policy                string
	Shown, Total          int
	Outside, Hinted, Wire int
	Clients               int
}

type rectView struct{ X, Y, W, H, Title string }

type dot struct {
	CX, CY, Class, Title string
	Wire                 bool
}

// backoffAxes is the chart's scale: slot n holds retry n's delays, hinted
// ones in the slot's right part, apart from the rest.
type backoffAxes struct {
	top, slot float64
}

func (a backoffAxes) y(v float64) float64 {
	return boY1 - min(max(v, 0), a.top)/a.top*(boY1-boY0)
}

func (a backoffAxes) center(n int) float64 { return boX0 + (float64(n)-0.5)*a.slot }

// buildBackoff draws each delay the result holds against the band it was
// held to, [LoMS, HiMS], both as the harness stored them. A delay that is
// not in policy is drawn red; one that honoured a server hint is drawn in
// the right half of its slot over the hint's floor, since the hint, not
// the policy, set it. Nil when there are no delays.
func buildBackoff(s *result.Scenario) *backoffChart {
	all := s.Measured.Delays
	if len(all) == 0 {
		return nil
	}
	c := &backoffChart{W: boW, H: boH, X0: f1(boX0), X1: f1(boX1), Y0: f1(boY0), Y1: f1(boY1),
		Total: len(all), AxisTitleX: f1(boX1), AxisTitleY: f1(boH - 4)}
	if s.Profile != nil {
		c.Policy = policyText(&s.Profile.Backoff)
	}
	var pts []result.Delay
	clients := map[string]bool{}
	for _, d := range all {
		if d.Attempt >= 1 && d.Attempt <= maxBackoffTries && finite(d.DelayMS) && len(pts) < maxBackoffPoints {
			pts = append(pts, d)
			clients[d.Client] = true
		}
	}
	c.Shown, c.Clients = len(pts), len(clients)
	if len(pts) == 0 {
		return c
	}
	ax := c.axes(pts)
	c.drawPoints(pts, ax)
	return c
}

// axes scales the chart to hold every delay, band and hint of pts, and
// labels its axes.
func (c *backoffChart) axes(pts []result.Delay) backoffAxes {
	tries, top := 1, 0.0
	for _, d := range pts {
		tries = max(tries, d.Attempt)
		for _, v := range []float64{d.DelayMS, d.HiMS, d.HintMS} {
			if finite(v) {
				top = max(top, min(v, far))
			}
		}
	}
	if top <= 0 {
		top = 1
	}
	step := niceStep(top, 4)
	ax := backoffAxes{top: math.Ceil(top/step) * step, slot: min(48, (boX1-boX0)/float64(tries))}
	c.YTicks = ticks(ax.top, step, 10, ax.y)
	every := max(1, int(math.Ceil(float64(tries)/15)))
	for n := 1; n <= tries; n += every {
		c.XLabels = append(c.XLabels, tick{X: f1(ax.center(n)), Label: strconv.Itoa(n)})
	}
	return ax
}

// drawPoints places each delay in its attempt's slot, those at one attempt
// spread across it in the order they came, each over its own band.
func (c *backoffChart) drawPoints(pts []result.Delay, ax backoffAxes) {
	type slotKey struct {
		attempt int
		hinted  bool
	}
	per := map[slotKey]int{}
	for _, d := range pts {
		per[slotKey{d.Attempt, d.HintMS > 0}]++
	}
	seen := map[slotKey]int{}
	bands := map[[3]float64]bool{}
	for _, d := range pts {
		key := slotKey{d.Attempt, d.HintMS > 0}
		k, m := seen[key], per[key]
		seen[key]++
		// Policy delays use the left part of the slot, hinted ones the right.
		left, width := ax.center(d.Attempt)-ax.slot*0.42, ax.slot*0.84
		if per[slotKey{d.Attempt, true}] > 0 {
			width /= 2
			if key.hinted {
				left += width
			}
		}
		cx := left + (float64(k)+0.5)/float64(m)*width
		p := dot{CX: f1(cx), CY: f1(ax.y(d.DelayMS)), Class: "in", Wire: d.Via == result.ViaWire, Title: delayTitle(&d, c.Clients > 1)}
		if key.hinted {
			c.Hinted++
			p.Class = "hint"
			c.Hints = append(c.Hints, rectView{X: f1(cx - 6), W: "12", Y: f1(ax.y(d.HintMS)), H: "2",
				Title: fmt.Sprintf("attempt %d: server hint %s", d.Attempt, fmtMS(d.HintMS))})
		} else if b := [3]float64{float64(d.Attempt), d.LoMS, d.HiMS}; !bands[b] && finite(d.LoMS) && finite(d.HiMS) {
			bands[b] = true
			c.Bands = append(c.Bands, rectView{X: f1(left), W: f1(width), Y: f1(ax.y(d.HiMS)), H: f1(max(ax.y(d.LoMS)-ax.y(d.HiMS), 1)),
				Title: fmt.Sprintf("attempt %d: the policy allows %s to %s", d.Attempt, fmtMS(d.LoMS), fmtMS(d.HiMS))})
		}
		if !d.InPolicy {
			c.Outside++
			p.Class = "out"
		}
		if p.Wire {
			c.Wire++
		}
		c.Points = append(c.Points, p)
	}
}

func delayTitle(d *result.Delay, several bool) string {
	t := fmt.Sprintf("attempt %d: %s", d.Attempt, fmtMS(d.DelayMS))
	if several && d.Client != "" {
		t = d.Client + " " + t
	}
	if d.HintMS > 0 {
		t += fmt.Sprintf(", honouring a server hint of %s", fmtMS(d.HintMS))
	} else {
		t += fmt.Sprintf(", the policy allows %s to %s", fmtMS(d.LoMS), fmtMS(d.HiMS))
	}
	if !d.InPolicy {
		t += ": outside policy"
	}
	if d.Via == result.ViaWire {
		t += " (from the wire)"
	}
	return t
}
