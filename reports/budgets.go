package reports

import (
	"fmt"

	"github.com/wschaos/wschaos/result"
)

// span is one measured interval the timeline draws against its budget:
// detection or recovery, with the moments the result holds for it.
type span struct {
	name string
	// from and at are the moments the figure counts from and to; figure
	// is the figure itself. silenceFrom and silenceFigure are detection
	// counted from the client's last inbound frame instead.
	from, at, figure           *float64
	silenceFrom, silenceFigure *float64
	limit                      float64
	hasLimit                   bool
	// check is the check of the same name, whose verdict colours the span.
	check *result.Check
}

// budgetSpans lists the spans of s that can be drawn: those whose start
// the result holds and that have a budget or an end to show.
func budgetSpans(s *result.Scenario) []span {
	m := &s.Measured
	var out []span
	add := func(sp span) {
		if sp.from == nil {
			return
		}
		sp.limit, sp.hasLimit = targetLimit(s, sp.name)
		if sp.at == nil && !sp.hasLimit {
			return
		}
		sp.check = checkNamed(s, sp.name)
		out = append(out, sp)
	}
	detect := span{name: "detect", from: finitePtr(m.DetectFromMS), at: finitePtr(m.DetectedAtMS), figure: finitePtr(m.DetectMS),
		silenceFrom: finitePtr(m.SilenceFromMS), silenceFigure: finitePtr(m.DetectSilenceMS)}
	if t := targetNamed(s, "detect"); t != nil && t.From == result.FromSilence && detect.silenceFrom != nil {
		// The target counts from the silence: so does its budget, and the
		// figure from the fault is the one drawn beside it.
		detect.from, detect.silenceFrom = detect.silenceFrom, detect.from
		detect.figure, detect.silenceFigure = detect.silenceFigure, detect.figure
	}
	add(detect)
	add(span{name: "recover", from: finitePtr(m.RecoverFromMS), at: finitePtr(m.RecoveredAtMS), figure: finitePtr(m.RecoverMS)})
	return out
}

// finitePtr is p, or nil when it points at no finite number.
func finitePtr(p *float64) *float64 {
	if p == nil || !finite(*p) {
		return nil
	}
	return p
}

// targetLimit returns the limit of s's target called name.
func targetLimit(s *result.Scenario, name string) (float64, bool) {
	if t := targetNamed(s, name); t != nil && finite(t.Limit) {
		return t.Limit, true
	}
	return 0, false
}

// targetNamed returns s's target called name, or nil.
func targetNamed(s *result.Scenario, name string) *result.Target {
	for i := range s.Targets {
		if s.Targets[i].Name == name {
			return &s.Targets[i]
		}
	}
	return nil
}

// checkNamed returns s's check called name, or nil.
func checkNamed(s *result.Scenario, name string) *result.Check {
	for i := range s.Checks {
		if s.Checks[i].Name == name {
			return &s.Checks[i]
		}
	}
	return nil
}

// verdictClass colours a budget or a figure by the verdict of its check:
// "ok", "over", or "na" when there is none to go by.
func verdictClass(c *result.Check) string {
	switch {
	case c == nil:
		return "na"
	case c.Passed():
		return "ok"
	case c.Failed():
		return "over"
	}
	return "na"
}

// drawBudget draws sp in budget row: a bracket from its start as long as
// its budget, a dashed line where it ended, and a dotted lead-in from the
// start of the client's silence when the result holds one.
func (tl *timeline) drawBudget(sp *span, row int) {
	y := tlTop + 18 + float64(row)*tlBudgetRow + 14
	from := *sp.from
	b := budget{Name: sp.name, Class: verdictClass(sp.check), Y: f1(y), TickTop: f1(y - 4), TickBot: f1(y + 4),
		X0: f1(tl.x(from)), LabelY: f1(y - 5), LineTop: f1(y), LineBot: f1(tl.PlotBottom)}
	end := from
	if sp.hasLimit {
		end = from + sp.limit
	}
	b.X1 = f1(tl.x(end))
	if sp.at != nil {
		b.MarkX = f1(tl.x(*sp.at))
	}
	left := tl.x(from)
	b.Title = fmt.Sprintf("%s counted from %s", sp.name, fmtMS(from))
	if sp.silenceFrom != nil {
		b.SilenceX = f1(tl.x(*sp.silenceFrom))
		left = min(left, tl.x(*sp.silenceFrom))
		b.Title += fmt.Sprintf("; the client's silence began at %s (its last inbound frame before the fault)", fmtMS(*sp.silenceFrom))
	}
	if sp.at != nil {
		b.Title += fmt.Sprintf("; happened at %s", fmtMS(*sp.at))
	}
	b.Label = budgetLabel(sp)
	b.Title = b.Label + " · " + b.Title
	// Keep the label inside the drawing: start at the bracket, or end at
	// the right edge when it would run off.
	lx := left + 4
	if lx+7*float64(len([]rune(b.Label))) > tlWidth-4 {
		lx, b.Anchor = tlWidth-4, "end"
	}
	b.LabelX = f1(lx)
	tl.Budgets = append(tl.Budgets, b)
}

// budgetLabel states the figure, the figure from silence, the budget and,
// when the check failed, its margin, as the result words them.
func budgetLabel(sp *span) string {
	label := sp.name + " not measured"
	if sp.figure != nil {
		label = sp.name + " " + fmtMS(*sp.figure)
	}
	if sp.silenceFigure != nil {
		label += fmt.Sprintf(" (%s from silence)", fmtMS(*sp.silenceFigure))
	}
	if sp.hasLimit {
		label += " · budget " + fmtMS(sp.limit)
	} else {
		label += " (no target)"
	}
	if c := sp.check; c != nil && c.Failed() && c.Margin != "" {
		label += ": " + c.Margin
	}
	return label
}
