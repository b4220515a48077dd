package reports

import (
	"fmt"
	"math"
	"strconv"
)

// Backoff chart geometry, in SVG user units.
const (
	boW, boH         = 720.0, 200.0
	boX0, boX1       = 56.0, 708.0
	boY0, boY1       = 12.0, 166.0
	maxBackoffPoints = 600
	maxBackoffTries  = 60 // attempts beyond this are counted, not drawn
	// delaySlackMS is the rounding the harness allows a delay against its
	// envelope; an outside client gets wireSlackMS more above it, since its
	// delays are read off the wire.
	delaySlackMS = 0.5
	wireSlackMS  = 100
	kindOutside  = "outside-client" // harness event naming an outside client
)

type backoffChart struct {
	W, H                   float64
	X0, X1, Y0, Y1         string
	Bands                  []rectView
	Points                 []dot
	YTicks, XLabels        []tick
	AxisTitleX, AxisTitleY string
	// Policy describes the envelope; "" when the result has none.
	Policy                 string
	Shown, Total           int
	Outside, Hinted, Below int
	Clients                int
}

type rectView struct{ X, Y, W, H, Title string }

type dot struct{ CX, CY, Class, Title string }

type delayPoint struct {
	attempt     int
	delay, hint float64
	client      string
	slack       float64 // allowed above the envelope
}

// envelope returns the bounds, in ms, of the delay before retry n under p,
// as client.Backoff.Envelope computes them: never below 1 ms.
func (p *BackoffPolicy) envelope(n int) (lo, hi float64) {
	n = max(n, 1)
	base := p.MaxMS
	if p.InitialMS < p.MaxMS {
		base = p.InitialMS
		if p.Multiplier > 1 {
			steps := math.Log(p.MaxMS/p.InitialMS) / math.Log(p.Multiplier)
			if exp := float64(n - 1); exp >= steps {
				base = p.MaxMS
			} else {
				base = min(p.InitialMS*math.Pow(p.Multiplier, exp), p.MaxMS)
			}
		}
	}
	return max(1, base*(1-p.Jitter)), max(1, base)
}

func (p *BackoffPolicy) usable() bool {
	return p != nil && finite(p.InitialMS) && finite(p.MaxMS) && finite(p.Multiplier) && finite(p.Jitter) &&
		p.InitialMS > 0 && p.MaxMS > 0 && p.Multiplier >= 1 && p.Jitter >= 0 && p.Jitter <= 1 && p.MaxMS < 1e12
}

func (p *BackoffPolicy) String() string {
	return fmt.Sprintf("initial %s, ×%s per attempt up to %s, jitter %s%%",
		fmtMS(p.InitialMS), num(p.Multiplier), fmtMS(p.MaxMS), num(100*p.Jitter))
}

// delayPoints collects the announced delays: the clients' backoff events,
// which carry attempt numbers, or else Measured.DelaysMS, numbered from 1.
func delayPoints(s *Scenario) []delayPoint {
	outside := map[string]bool{}
	for i := range s.Timeline {
		if e := &s.Timeline[i]; e.Source == "harness" && e.Kind == kindOutside {
			outside[e.Client] = true
		}
	}
	var pts []delayPoint
	count := map[string]int{}
	for i := range s.Timeline {
		e := &s.Timeline[i]
		if e.Source != "client" || markKind(e.Kind) != "backoff" || !finite(e.DelayMS) || e.DelayMS <= 0 {
			continue
		}
		count[e.Client]++
		n := e.Attempt
		if n <= 0 {
			n = count[e.Client]
		}
		p := delayPoint{attempt: n, delay: e.DelayMS, client: e.Client, slack: delaySlackMS}
		if finite(e.HintMS) && e.HintMS > 0 {
			p.hint = e.HintMS
		}
		if outside[e.Client] {
			p.slack += wireSlackMS
		}
		pts = append(pts, p)
	}
	if len(pts) > 0 {
		return pts
	}
	for i, d := range s.Measured.DelaysMS {
		if finite(d) && d >= 0 {
			pts = append(pts, delayPoint{attempt: i + 1, delay: d, slack: delaySlackMS})
		}
	}
	return pts
}

// buildBackoff draws each announced delay against the policy's envelope
// for its attempt: a band from base*(1-Jitter) to base. A delay outside its
// band is drawn red; one that honoured a server hint is drawn apart, since
// the hint, not the policy, set it.
func buildBackoff(s *Scenario) *backoffChart {
	all := delayPoints(s)
	if len(all) == 0 {
		return nil
	}
	c := &backoffChart{W: boW, H: boH, X0: f1(boX0), X1: f1(boX1), Y0: f1(boY0), Y1: f1(boY1),
		Total: len(all), AxisTitleX: f1(boX1), AxisTitleY: f1(boH - 4)}
	pol := s.Policy
	if !pol.usable() {
		pol = nil
	} else {
		c.Policy = pol.String()
	}
	var pts []delayPoint
	clients := map[string]bool{}
	for _, p := range all {
		if p.attempt <= maxBackoffTries && len(pts) < maxBackoffPoints {
			pts = append(pts, p)
			clients[p.client] = true
		}
	}
	c.Shown, c.Clients = len(pts), len(clients)
	if len(pts) == 0 {
		return c
	}
	tries, top := 1, 0.0
	perTry := map[int]int{}
	for _, p := range pts {
		tries = max(tries, p.attempt)
		top = max(top, min(p.delay, 1e12))
		perTry[p.attempt]++
	}
	if pol != nil {
		for n := 1; n <= tries; n++ {
			_, hi := pol.envelope(n)
			top = max(top, hi)
		}
	}
	if top <= 0 {
		top = 1
	}
	step := niceStep(top, 4)
	top = math.Ceil(top/step) * step
	y := func(v float64) float64 { return boY1 - min(max(v, 0), top)/top*(boY1-boY0) }
	for i := 0; i <= 10; i++ {
		v := float64(i) * step
		if v > top+step/2 {
			break
		}
		c.YTicks = append(c.YTicks, tick{X: f1(y(v)), Label: num(v)})
	}
	// Few attempts get slim slots from the left, not a few slabs.
	slot := min(48, (boX1-boX0)/float64(tries))
	center := func(n int) float64 { return boX0 + (float64(n)-0.5)*slot }
	every := max(1, int(math.Ceil(float64(tries)/15)))
	for n := 1; n <= tries; n++ {
		if (n-1)%every == 0 {
			c.XLabels = append(c.XLabels, tick{X: f1(center(n)), Label: strconv.Itoa(n)})
		}
		if pol != nil {
			lo, hi := pol.envelope(n)
			c.Bands = append(c.Bands, rectView{
				X: f1(center(n) - slot*0.42), W: f1(slot * 0.84),
				Y: f1(y(hi)), H: f1(max(y(lo)-y(hi), 1)),
				Title: fmt.Sprintf("attempt %d: policy allows %s to %s", n, fmtMS(lo), fmtMS(hi)),
			})
		}
	}
	// Points at one attempt spread across its slot, in the order they came.
	seen := map[int]int{}
	for _, p := range pts {
		k, m := seen[p.attempt], perTry[p.attempt]
		seen[p.attempt]++
		cx := center(p.attempt)
		if m > 1 {
			cx += ((float64(k)+0.5)/float64(m) - 0.5) * slot * 0.7
		}
		d := dot{CX: f1(cx), CY: f1(y(p.delay)), Class: "in"}
		who := ""
		if c.Clients > 1 && p.client != "" {
			who = p.client + " "
		}
		d.Title = fmt.Sprintf("%sattempt %d: %s", who, p.attempt, fmtMS(p.delay))
		switch {
		case p.hint > 0:
			c.Hinted++
			d.Class = "hint"
			d.Title += fmt.Sprintf(", honouring a server hint of %s", fmtMS(p.hint))
			if p.delay+delaySlackMS < p.hint {
				c.Below++
				d.Class = "out"
				d.Title += ": below it"
			}
		case pol != nil:
			lo, hi := pol.envelope(p.attempt)
			if p.delay+delaySlackMS < lo || p.delay-p.slack > hi {
				c.Outside++
				d.Class = "out"
				d.Title += fmt.Sprintf(", outside the policy's %s to %s", fmtMS(lo), fmtMS(hi))
			}
		default:
			d.Class = "plain"
		}
		c.Points = append(c.Points, d)
	}
	return c
}
