package reports

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wschaos/wschaos/result"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var reportTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"ms":        fmtMS,
	"maxTries":  func() int { return maxBackoffTries },
	"maxPoints": func() int { return maxBackoffPoints },
}).ParseFS(templateFS, "templates/*.tmpl"))

var errNilResult = errors.New("reports: nil result")

// WriteHTML writes r to w as one self-contained HTML page: a verdict
// banner with the run's counts as r.Summary holds them, the run's metadata
// and the command to reproduce it, the clients with their declared
// profiles, a matrix of scenarios by clients when more than one client ran,
// a summary table of the runs against clients that are not mutants and,
// per scenario and client, grouped by client, a section with its faults,
// targets, checks, an SVG timeline of every event with the fault windows
// and the measured detection and recovery drawn against their budgets, the
// backoff delays each against the band its policy allows and, for several
// clients, the spread the result holds: percentiles, a recovery CDF and the
// dials per window against the herd limit. A stress run (Scenario.Stress)
// gets its figures first. Runs against a mutant are compact (figures and
// checks) except the first scenario that caught it.
//
// The page draws what r holds and measures nothing. It fetches nothing and
// needs no script; it depends only on r (r.GeneratedAt, not the clock), so
// the same result gives the same bytes. WriteHTML renders whatever it is
// given, valid or not, and writes nothing if rendering fails.
func WriteHTML(w io.Writer, r *result.Result) error {
	if r == nil {
		return errNilResult
	}
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, buildPage(r)); err != nil {
		return fmt.Errorf("reports: render html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type page struct {
	Verdict     verdictView
	Summary     result.Summary
	Total       int
	GeneratedAt string
	Run         runView
	Schema      string
	Rows        []summaryRow
	// RowsLeftOut counts runs against mutants kept out of the summary
	// table: the matrix shows them.
	RowsLeftOut int
	Sections    []section
	Clients     []clientView
	Matrix      *matrix
	// Compact counts sections shown without timeline and charts.
	Compact int
}

// verdictView is a verdict as the page shows it: Class picks the colour
// (pass green, fail red, interrupted amber, the rest grey), Word the text.
type verdictView struct {
	Class, Word string
}

// runView is the run's metadata with the fields that need words.
type runView struct {
	result.RunInfo
	// Scale is the timescale in words, Server what the chain stood in
	// front of.
	Scale, Server string
}

type summaryRow struct {
	ID, Name, Client string
	Verdict          verdictView
	Figures          figures
	FailedChecks     []string
	// Problem is "could not run", "not run" or "" when the checks say it all.
	Problem string
}

// verdictOf maps a verdict to its colour class and word. A verdict outside
// the set, or none, is shown as it is, in grey.
func verdictOf(v result.Verdict) verdictView {
	switch v {
	case result.Pass:
		return verdictView{"pass", "pass"}
	case result.Fail:
		return verdictView{"fail", "fail"}
	case result.Interrupted:
		return verdictView{"interrupted", "interrupted"}
	case result.NotApplicable:
		return verdictView{"na", "n/a"}
	case result.NotRun:
		return verdictView{"notrun", "not run"}
	case "":
		return verdictView{"na", "no verdict"}
	}
	return verdictView{"na", string(v)}
}

// Banner is the verdict as the page's banner and title state it.
func (v verdictView) Banner() string {
	switch v.Class {
	case "pass":
		return "✓ PASS"
	case "fail":
		return "✗ FAIL"
	case "interrupted":
		return "⚠ INTERRUPTED"
	}
	return strings.ToUpper(v.Word)
}

// layout is where every scenario goes on the page: its anchor, its row
// and column in the matrix, and whether it is drawn in full.
type layout struct {
	cols     []column
	colIndex map[string]int
	rowIndex map[string]int
	ids      []string
	heads    map[string]string
	mutants  map[string]bool
	// firstCatch is, per mutant, the index of the first scenario in row
	// order that caught it: the one run against it drawn in full.
	firstCatch map[string]int
}

func buildPage(r *result.Result) page {
	p := page{
		Verdict: verdictOf(r.Verdict),
		Summary: r.Summary,
		Run:     buildRun(r.Run),
		Schema:  r.Schema,
		Total:   len(r.Scenarios),
		Clients: buildClients(r.Clients),
	}
	if !r.GeneratedAt.IsZero() {
		p.GeneratedAt = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	lay := planLayout(r)
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		mutant := lay.mutants[s.Client]
		if mutant {
			p.RowsLeftOut++
		} else {
			p.Rows = append(p.Rows, buildRow(s, lay.ids[i]))
		}
		j, first := lay.firstCatch[s.Client]
		sec := buildSection(s, lay.ids[i], mutant, !mutant || (first && j == i))
		if !sec.Full {
			p.Compact++
		}
		p.Sections = append(p.Sections, sec)
	}
	if len(lay.cols) > 1 {
		p.Matrix = buildMatrix(r, lay.cols, lay.ids, lay.heads)
		groupSections(&p, &lay)
	}
	return p
}

func buildRun(ri result.RunInfo) runView {
	v := runView{RunInfo: ri, Scale: "×1 (none)", Server: "fake server"}
	if finite(ri.Timescale) && ri.Timescale != 0 && ri.Timescale != 1 {
		v.Scale = "×" + num(ri.Timescale)
	}
	if ri.Upstream != "" {
		v.Server = ri.Upstream
	}
	return v
}

// planLayout gives every scenario its anchor and place. Anchors follow the
// result's order, so they do not move when the sections are regrouped.
func planLayout(r *result.Result) layout {
	lay := layout{cols: columnsOf(r), rowIndex: map[string]int{}, mutants: mutantSet(r), firstCatch: map[string]int{}}
	lay.colIndex = make(map[string]int, len(lay.cols))
	for i, c := range lay.cols {
		lay.colIndex[c.Name] = i
	}
	for i, n := range rowsOf(r) {
		lay.rowIndex[n] = i
	}
	seen := make(map[string]bool, len(r.Scenarios)+len(lay.cols))
	lay.ids = make([]string, len(r.Scenarios))
	for i := range r.Scenarios {
		lay.ids[i] = anchorID(r.Scenarios[i].Name, r.Scenarios[i].Client, seen)
	}
	lay.heads = make(map[string]string, len(lay.cols))
	for _, c := range lay.cols {
		lay.heads[c.Name] = uniqueID("c-"+cleanID(c.Name), seen)
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !lay.mutants[s.Client] || !caught(s) {
			continue
		}
		if j, ok := lay.firstCatch[s.Client]; !ok || lay.rowIndex[s.Name] < lay.rowIndex[r.Scenarios[j].Name] {
			lay.firstCatch[s.Client] = i
		}
	}
	return lay
}

func buildRow(s *result.Scenario, id string) summaryRow {
	row := summaryRow{ID: id, Name: s.Name, Client: s.Client, Verdict: verdictOf(s.Verdict),
		Figures: buildFigures(&s.Measured), FailedChecks: failedNames(s)}
	switch {
	case s.Verdict == result.NotRun:
		row.Problem = "not run"
	case s.Error != "" && s.Verdict == result.Fail:
		row.Problem = "could not run"
	}
	return row
}

// failedNames lists the names of s's failed checks.
func failedNames(s *result.Scenario) []string {
	var out []string
	for i := range s.Checks {
		if s.Checks[i].Failed() {
			out = append(out, s.Checks[i].Name)
		}
	}
	return out
}

// groupSections orders the sections by client column, then scenario row,
// and heads each client's run with its name, profile and standing, as the
// matrix shows them.
func groupSections(p *page, lay *layout) {
	slices.SortStableFunc(p.Sections, func(a, b section) int {
		return cmp.Or(cmp.Compare(lay.colIndex[a.Client], lay.colIndex[b.Client]), cmp.Compare(lay.rowIndex[a.Name], lay.rowIndex[b.Name]))
	})
	status := map[string]matrixColumn{}
	if p.Matrix != nil {
		for _, c := range p.Matrix.Columns {
			status[c.Name] = c
		}
	}
	for i := 0; i < len(p.Sections); {
		name := p.Sections[i].Client
		c := lay.cols[lay.colIndex[name]]
		g := &groupHead{ID: lay.heads[name], Client: clientOf(c.Client)}
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

// mutantSet names the clients r.Clients marks as mutants.
func mutantSet(r *result.Result) map[string]bool {
	m := make(map[string]bool)
	for _, c := range r.Clients {
		if c.Mutant {
			m[c.Name] = true
		}
	}
	return m
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

// optMSText formats a figure that may not have been measured.
func optMSText(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmtMS(*v)
}
