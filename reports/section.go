package reports

import (
	"fmt"
	"strings"

	"github.com/wschaos/wschaos/result"
)

// section is one scenario against one client.
type section struct {
	ID, Name, Client string
	Verdict          verdictView
	Description      string
	DurationMS       float64
	// Problem says why the scenario could not run, was not run, was cut
	// short or had nothing to judge; nil when its checks say it all.
	Problem *problem
	// Full is false for a compact section: head, figures and checks only.
	Full bool
	// Group opens a client's run of sections when the page has several.
	Group        *groupHead
	Profile      string
	Faults       []faultView
	Targets      []targetView
	Checks       []checkView
	FailedChecks int
	Figures      figures
	Events       int
	Timeline     *timeline
	Spread       *spread
	Backoff      *backoffChart
	Mutant       bool
	// Caught marks a section against a mutant that caught it.
	Caught bool
	Flows  []flowView
	Link   []linkRow
	// Stress holds the figures of a stress run; nil for other scenarios.
	Stress *stressView
}

type problem struct {
	// Class is "error" (red), "interrupted" (amber) or "na" (grey).
	Class, Heading, Text string
}

// figures are a scenario's measured figures as the page shows them.
type figures struct {
	Detect, DetectSilence, Recover, Downtime string
	Attempts, Reconnects, Resumed            int
	Undelivered                              int
	// Messages is set when the client speaks the protocol, so resumed
	// sessions are worth a figure.
	Messages bool
	// Wire marks figures read off the wire.
	Wire bool
}

type checkView struct {
	result.Check
	// Class colours the row: "bad", "na" or "".
	Class string
	// Mark is ✓, ✗ or n/a; Title says what it means and, with a number,
	// the value against the limit.
	Mark, Title string
}

type targetView struct {
	result.Target
	// Parts states the limit as its bound plus its allowance.
	Parts string
}

type faultView struct {
	Index              int
	Kind, Layer, Text  string
	Window, IssuedNote string
}

type flowView struct {
	Direction string
	result.Flow
}

type linkRow struct {
	Direction string
	result.Packets
}

func buildSection(s *result.Scenario, id string, mutant, full bool) section {
	sec := section{
		ID: id, Name: s.Name, Client: s.Client, Verdict: verdictOf(s.Verdict),
		Description: s.Description, DurationMS: s.DurationMS, Problem: problemOf(s),
		Full: full, Checks: checkViews(s.Checks), FailedChecks: len(failedNames(s)),
		Figures: buildFigures(&s.Measured), Events: len(s.Timeline),
		Mutant: mutant, Caught: mutant && caught(s),
	}
	if !full {
		return sec
	}
	sec.Profile = profileText(s.Profile)
	for _, t := range s.Targets {
		sec.Targets = append(sec.Targets, targetView{Target: t, Parts: targetParts(&t)})
	}
	sec.Timeline = buildTimeline(s)
	sec.Spread = buildSpread(s, sec.Timeline)
	sec.Backoff = buildBackoff(s)
	sec.Stress = buildStress(s, id)
	if f := s.Measured.Up; f != nil {
		sec.Flows = append(sec.Flows, flowView{"up (client → server)", *f})
	}
	if f := s.Measured.Down; f != nil {
		sec.Flows = append(sec.Flows, flowView{"down (server → client)", *f})
	}
	if l := s.Link; l != nil {
		sec.Link = []linkRow{{"up (client → server)", l.Up}, {"down (server → client)", l.Down}}
	}
	for _, f := range s.Faults {
		v := faultView{Index: f.Index, Kind: f.Kind, Layer: string(f.Layer), Text: f.Text, Window: faultWindow(f.StartMS, f.EndMS)}
		if f.IssuedMS != f.StartMS {
			v.IssuedNote = "issued at " + fmtMS(f.IssuedMS)
		}
		sec.Faults = append(sec.Faults, v)
	}
	return sec
}

// problemOf says what the reader must know before the checks: why the
// scenario did not run, was cut short or had nothing to judge.
func problemOf(s *result.Scenario) *problem {
	switch s.Verdict {
	case result.NotRun:
		return &problem{"na", "Not run", or(s.Error, "the result does not say why")}
	case result.Interrupted:
		return &problem{"interrupted", "Interrupted", or(s.Error, "the run was cut short while this scenario ran; its figures are partial and judge nothing")}
	case result.NotApplicable:
		why := s.Error
		for i := range s.Checks {
			if c := &s.Checks[i]; why == "" && c.Defining && c.Verdict == result.NotApplicable {
				why = c.Name + ": " + or(c.Margin, "nothing to judge")
			}
		}
		return &problem{"na", "Nothing to judge", or(why, "the defining check had no evidence")}
	}
	if s.Error == "" {
		return nil
	}
	if s.Verdict == result.Fail {
		return &problem{"error", "Could not run", s.Error}
	}
	return &problem{"error", "Error", s.Error}
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func buildFigures(m *result.Measured) figures {
	return figures{
		Detect: optMSText(m.DetectMS), DetectSilence: optMSText(m.DetectSilenceMS),
		Recover: optMSText(m.RecoverMS), Downtime: optMSText(m.DowntimeMS),
		Attempts: m.Attempts, Reconnects: m.Reconnects, Resumed: m.Resumed, Undelivered: m.Undelivered,
		Messages: m.Up != nil || m.Down != nil || m.Resumed > 0, Wire: m.Via == result.ViaWire,
	}
}

func checkViews(cs []result.Check) []checkView {
	out := make([]checkView, 0, len(cs))
	for _, c := range cs {
		v := checkView{Check: c}
		switch c.Verdict {
		case result.Pass:
			v.Mark, v.Title = "✓", "passed"
		case result.Fail:
			v.Mark, v.Title, v.Class = "✗", "failed", "bad"
		case result.NotApplicable:
			v.Mark, v.Title, v.Class = "n/a", "not applicable: nothing to judge, never counted as passed", "na"
		default:
			v.Mark, v.Title, v.Class = string(c.Verdict), "verdict "+string(c.Verdict), "na"
		}
		if c.Value != nil {
			v.Title += fmt.Sprintf("; value %s %s against a limit of %s %s", num(*c.Value), unitWord(c.Unit), num(c.Limit), unitWord(c.Unit))
		}
		out = append(out, v)
	}
	return out
}

func unitWord(u result.Unit) string {
	if u == result.UnitCount || u == "" {
		return ""
	}
	return string(u)
}

// targetParts states a target's limit as bound plus allowance, when the
// result gives them.
func targetParts(t *result.Target) string {
	if t.Bound == 0 && t.Allowance == 0 {
		return ""
	}
	u := unitWord(t.Unit)
	return strings.TrimSpace(fmt.Sprintf("%s %s promised + %s %s allowed", grouped(t.Bound), u, grouped(t.Allowance), u))
}

// profileText states a timing profile in words; "" for none.
func profileText(p *result.Profile) string {
	if p == nil {
		return ""
	}
	var parts []string
	if p.PingIntervalMS > 0 || p.PongTimeoutMS > 0 {
		parts = append(parts, "ping every "+fmtMS(p.PingIntervalMS)+", pong within "+fmtMS(p.PongTimeoutMS))
	} else {
		parts = append(parts, "no heartbeat")
	}
	if p.HandshakeTimeoutMS > 0 {
		parts = append(parts, "handshake within "+fmtMS(p.HandshakeTimeoutMS))
	}
	if p.AckTimeoutMS > 0 {
		parts = append(parts, "ack within "+fmtMS(p.AckTimeoutMS))
	}
	parts = append(parts, "backoff "+policyText(&p.Backoff))
	if p.HintMaxMS > 0 {
		parts = append(parts, "server hints honoured up to "+fmtMS(p.HintMaxMS))
	}
	return strings.Join(parts, " · ")
}

func policyText(b *result.BackoffPolicy) string {
	return fmt.Sprintf("%s ×%s per attempt up to %s, jitter %s%%",
		fmtMS(b.InitialMS), num(b.Multiplier), fmtMS(b.MaxMS), num(100*b.Jitter))
}

// clientView is a client with what the page says about it.
type clientView struct {
	result.Client
	Profile string
}

func clientOf(c result.Client) clientView {
	return clientView{Client: c, Profile: profileText(c.Profile)}
}

func buildClients(cs []result.Client) []clientView {
	out := make([]clientView, 0, len(cs))
	for _, c := range cs {
		out = append(out, clientOf(c))
	}
	return out
}

// groupHead is the heading over one client's sections.
type groupHead struct {
	ID                  string
	Client              clientView
	Status, StatusClass string
	Runs, Full          int
}
