package reports

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var reportTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"ms":        fmtMS,
	"sub":       func(a, b int) int { return a - b },
	"maxTries":  func() int { return maxBackoffTries },
	"maxPoints": func() int { return maxBackoffPoints },
}).ParseFS(templateFS, "templates/*.tmpl"))

// WriteHTML writes r to w as one self-contained HTML page: a verdict
// banner, the run's metadata and the command to reproduce it, a matrix of
// scenarios by clients when more than one client ran, a summary table of
// the runs against clients that are not mutants and, per scenario and
// client, grouped by client, a section with its faults, targets, checks,
// an SVG timeline of every event with the fault windows, detection and
// recovery drawn against their budgets, the backoff delays against the
// policy's envelope and, for several clients, percentiles and a CDF of
// their recovery times and a histogram of redials against the herd-spread
// limit. A stress run (Scenario.Stress) gets its figures first: a table of
// each fault's detection, redial and recovery percentiles, attempts and
// peak reconnects, for each fault that cut clients off a recovery CDF
// against its target over the reconnects per 100 ms, the message totals
// and each process's CPU, memory, goroutines and descriptors. Runs against
// a mutant are compact (figures and checks) except the first scenario that
// caught it. The page fetches nothing and needs no script; it depends only
// on r (r.GeneratedAt, not the clock), so the same result gives the same
// bytes. WriteHTML renders whatever it is given, valid or not, and writes
// nothing if rendering fails.
func WriteHTML(w io.Writer, r *Result) error {
	if r == nil {
		return fmt.Errorf("%w: nil result", ErrInvalid)
	}
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, buildPage(r)); err != nil {
		return fmt.Errorf("reports: render html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type page struct {
	Verdict     string
	Passed      int
	Failed      int
	Total       int
	GeneratedAt string
	Run         RunInfo
	Schema      string
	Rows        []summaryRow
	// RowsLeftOut counts runs against mutants kept out of the summary
	// table: the matrix shows them.
	RowsLeftOut int
	Sections    []section
	Clients     []Client
	Matrix      *matrix
	// Compact counts sections shown without timeline and charts.
	Compact int
	// MutantFails counts failures against mutants: expected ones.
	MutantFails int
}

type summaryRow struct {
	ID, Name, Client, Verdict string
	Detect, Recover, Downtime string
	Attempts                  int
	FailedChecks              []string
	Error                     bool
}

type section struct {
	ID, Name, Client, Verdict string
	Description, Error        string
	DurationMS                float64
	// Full is false for a compact section: head, figures and checks only.
	Full bool
	// Group opens a client's run of sections when the page has several.
	Group        *groupHead
	Faults       []faultView
	Targets      []Target
	Checks       []Check
	FailedChecks int
	Measured     Measured
	Events       int
	Timeline     *timeline
	Spread       *spread
	Backoff      *backoffChart
	Mutant       bool
	// Caught marks a section against a mutant that caught it.
	Caught bool
	Flows  []flowView
	// Stress holds the figures of a stress run; nil for other scenarios.
	Stress *stressView
}

// groupHead is the heading over one client's sections.
type groupHead struct {
	ID, Name, Description string
	Mutant                bool
	Status, StatusClass   string
	Runs, Full            int
}

type flowView struct {
	Direction string
	Flow
}

type faultView struct {
	Kind, Detail string
	Window       string
}

func buildPage(r *Result) page {
	p := page{
		Run:     r.Run,
		Schema:  r.Schema,
		Total:   len(r.Scenarios),
		Clients: r.Clients,
	}
	mutants := mutantSet(r)
	uncaught := false
	for _, c := range r.Clients {
		uncaught = uncaught || (c.Mutant && !c.Caught)
	}
	realFails := 0
	if !r.GeneratedAt.IsZero() {
		p.GeneratedAt = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	cols := columnsOf(r)
	colIndex := make(map[string]int, len(cols))
	for i, c := range cols {
		colIndex[c.Name] = i
	}
	rowIndex := map[string]int{}
	for i, n := range rowsOf(r) {
		rowIndex[n] = i
	}
	// Anchors follow the result's order, so they do not move when the
	// sections are regrouped.
	seen := make(map[string]bool, len(r.Scenarios)+len(cols))
	ids := make([]string, len(r.Scenarios))
	for i := range r.Scenarios {
		ids[i] = anchorID(r.Scenarios[i].Name, r.Scenarios[i].Client, seen)
	}
	heads := make(map[string]string, len(cols))
	for _, c := range cols {
		heads[c.Name] = uniqueID("c-"+cleanID(c.Name), seen)
	}
	// A mutant gets one full section: the first scenario, in row order, that
	// caught it. Its other runs are compact.
	firstCatch := map[string]int{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !mutants[s.Client] || !caught(s) {
			continue
		}
		if j, ok := firstCatch[s.Client]; !ok || rowIndex[s.Name] < rowIndex[r.Scenarios[j].Name] {
			firstCatch[s.Client] = i
		}
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		mutant := mutants[s.Client]
		switch {
		case s.Verdict == Pass:
			p.Passed++
		case mutant:
			p.Failed++
			p.MutantFails++
		default:
			p.Failed++
			realFails++
		}
		var failed []string
		for _, c := range s.Checks {
			if !c.OK {
				failed = append(failed, c.Name)
			}
		}
		if mutant {
			p.RowsLeftOut++
		} else {
			p.Rows = append(p.Rows, summaryRow{
				ID: ids[i], Name: s.Name, Client: s.Client, Verdict: verdictClass(s.Verdict),
				Detect: optMSText(s.Measured.DetectMS), Recover: optMSText(s.Measured.RecoverMS),
				Downtime: optMSText(s.Measured.DowntimeMS), Attempts: s.Measured.Attempts,
				FailedChecks: failed, Error: s.Error != "",
			})
		}
		j, first := firstCatch[s.Client]
		sec := section{
			ID: ids[i], Name: s.Name, Client: s.Client, Verdict: verdictClass(s.Verdict),
			Description: s.Description, Error: s.Error, DurationMS: s.DurationMS,
			Full:   !mutant || (first && j == i),
			Checks: s.Checks, FailedChecks: len(failed),
			Measured: s.Measured, Events: len(s.Timeline),
			Mutant: mutant, Caught: mutant && caught(s),
		}
		if !sec.Full {
			p.Compact++
			p.Sections = append(p.Sections, sec)
			continue
		}
		sec.Targets = s.Targets
		sec.Timeline = buildTimeline(s)
		sec.Spread = buildSpread(s, sec.Timeline)
		sec.Backoff = buildBackoff(s)
		sec.Stress = buildStress(s, ids[i])
		if f := s.Measured.Up; f != nil {
			sec.Flows = append(sec.Flows, flowView{"up (client → server)", *f})
		}
		if f := s.Measured.Down; f != nil {
			sec.Flows = append(sec.Flows, flowView{"down (server → client)", *f})
		}
		for _, f := range s.Faults {
			sec.Faults = append(sec.Faults, faultView{Kind: f.Kind, Detail: f.Detail, Window: faultWindow(f.StartMS, f.EndMS)})
		}
		p.Sections = append(p.Sections, sec)
	}
	if len(cols) > 1 {
		p.Matrix = buildMatrix(r, cols, ids, heads)
		groupSections(&p, cols, colIndex, rowIndex, heads)
	}
	// The banner shows the stored verdict; a result without one is judged
	// from its scenarios, as Result.Verdict is defined: every scenario
	// passed, mutants apart, and every mutant was caught.
	switch {
	case r.Verdict != "":
		p.Verdict = verdictClass(r.Verdict)
	case realFails == 0 && !uncaught:
		p.Verdict = Pass
	default:
		p.Verdict = Fail
	}
	return p
}

// groupSections orders the sections by client column, then scenario row,
// and heads each client's run with its name and standing, as the matrix
// shows them.
func groupSections(p *page, cols []column, colIndex, rowIndex map[string]int, heads map[string]string) {
	slices.SortStableFunc(p.Sections, func(a, b section) int {
		return cmp.Or(cmp.Compare(colIndex[a.Client], colIndex[b.Client]), cmp.Compare(rowIndex[a.Name], rowIndex[b.Name]))
	})
	status := map[string]matrixColumn{}
	if p.Matrix != nil {
		for _, c := range p.Matrix.Columns {
			status[c.Name] = c
		}
	}
	for i := 0; i < len(p.Sections); {
		name := p.Sections[i].Client
		c := cols[colIndex[name]]
		g := &groupHead{ID: heads[name], Name: name, Description: c.Description, Mutant: c.Mutant}
		if mc, ok := status[name]; ok {
			g.Status, g.StatusClass = mc.Status, mc.StatusClass
		}
		j := i
		for ; j < len(p.Sections) && p.Sections[j].Client == name; j++ {
			g.Runs++
			if p.Sections[j].Full {
				g.Full++
			}
		}
		p.Sections[i].Group = g
		i = j
	}
}

// verdictClass maps a verdict to the CSS class and word shown: anything
// but "pass" is shown as a failure.
func verdictClass(v string) string {
	if v == Pass {
		return Pass
	}
	return Fail
}

// anchorID makes an HTML id from a scenario and client: letters, digits,
// '-' and '_' only, unique within the page.
func anchorID(name, client string, seen map[string]bool) string {
	base := "s-" + cleanID(name)
	if c := cleanID(client); c != "" {
		base += "--" + c
	}
	return uniqueID(base, seen)
}

// uniqueID returns base, or base with a number added if seen holds it, and
// marks the result seen.
func uniqueID(base string, seen map[string]bool) string {
	id := base
	for n := 2; seen[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	seen[id] = true
	return id
}

// cleanID keeps the letters, digits and '_' of s, each other run of
// characters turned into one '-', at most about 60 of them.
func cleanID(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// num formats v with at most one decimal and no trailing zero.
func num(v float64) string {
	if !finite(v) {
		return "?"
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// fmtMS formats a duration in ms for people: "312 ms", "1,250 ms".
func fmtMS(v float64) string {
	if !finite(v) {
		return "?"
	}
	return grouped(v) + " ms"
}

// grouped formats v as num does, with its thousands grouped: "1,250.5".
func grouped(v float64) string {
	if !finite(v) {
		return "?"
	}
	s := num(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	if len(intPart) > 3 && len(intPart) <= 18 {
		var b strings.Builder
		for i, c := range intPart {
			if i > 0 && (len(intPart)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		intPart = b.String()
	}
	if frac != "" {
		intPart += "." + frac
	}
	if neg {
		intPart = "-" + intPart
	}
	return intPart
}

// faultWindow says when a fault held: "at 600 ms" for an instant one,
// "1,000 ms → 3,000 ms (2,000 ms)" for a window.
func faultWindow(start, end float64) string {
	if end == start {
		return "at " + fmtMS(start)
	}
	return fmtMS(start) + " → " + fmtMS(end) + " (" + fmtMS(end-start) + ")"
}

func optMSText(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmtMS(*v)
}
