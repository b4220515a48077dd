package reports

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var reportTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"ms": fmtMS,
}).ParseFS(templateFS, "templates/*.tmpl"))

// WriteHTML writes r to w as one self-contained HTML page: a verdict
// banner, the run's metadata and the command to reproduce it, a summary
// table and, per scenario, its faults, targets, checks and an SVG timeline
// of every event with the fault windows, detection and recovery drawn
// against their budgets. The page fetches nothing and needs no script; it
// depends only on r (r.GeneratedAt, not the clock), so the same result gives
// the same bytes. WriteHTML renders whatever it is given, valid or not, and
// writes nothing if rendering fails.
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
	Sections    []section
	Clients     []Client
	// MutantFails counts failures against mutants: expected ones.
	MutantFails int
}

type summaryRow struct {
	ID, Name, Client, Verdict string
	Detect, Recover, Downtime string
	Attempts                  int
	FailedChecks              []string
	Error                     bool
	Mutant                    bool
}

type section struct {
	ID, Name, Client, Verdict string
	Description, Error        string
	DurationMS                float64
	Faults                    []faultView
	Targets                   []Target
	Checks                    []Check
	FailedChecks              int
	Measured                  Measured
	Events                    int
	Timeline                  *timeline
	Delays                    *barChart
	Mutant                    bool
	Flows                     []flowView
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
	ids := make(map[string]bool, len(r.Scenarios))
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
		id := anchorID(s.Name, s.Client, ids)
		var failed []string
		for _, c := range s.Checks {
			if !c.OK {
				failed = append(failed, c.Name)
			}
		}
		p.Rows = append(p.Rows, summaryRow{
			ID: id, Name: s.Name, Client: s.Client, Verdict: verdictClass(s.Verdict),
			Detect: optMSText(s.Measured.DetectMS), Recover: optMSText(s.Measured.RecoverMS),
			Downtime: optMSText(s.Measured.DowntimeMS), Attempts: s.Measured.Attempts,
			FailedChecks: failed, Error: s.Error != "", Mutant: mutant,
		})
		sec := section{
			ID: id, Name: s.Name, Client: s.Client, Verdict: verdictClass(s.Verdict),
			Description: s.Description, Error: s.Error, DurationMS: s.DurationMS,
			Targets: s.Targets, Checks: s.Checks, FailedChecks: len(failed),
			Measured: s.Measured, Events: len(s.Timeline),
			Timeline: buildTimeline(s),
			Delays:   buildDelays(s.Measured.DelaysMS),
			Mutant:   mutant,
		}
		if f := s.Measured.Up; f != nil {
			sec.Flows = append(sec.Flows, flowView{"up (client → server)", *f})
		}
		if f := s.Measured.Down; f != nil {
			sec.Flows = append(sec.Flows, flowView{"down (server → client)", *f})
		}
		for _, f := range s.Faults {
			fv := faultView{Kind: f.Kind, Detail: f.Detail}
			if f.EndMS == f.StartMS {
				fv.Window = "at " + fmtMS(f.StartMS)
			} else {
				fv.Window = fmtMS(f.StartMS) + " → " + fmtMS(f.EndMS) + " (" + fmtMS(f.EndMS-f.StartMS) + ")"
			}
			sec.Faults = append(sec.Faults, fv)
		}
		p.Sections = append(p.Sections, sec)
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
	clean := func(s string) string {
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
	base := "s-" + clean(name)
	if c := clean(client); c != "" {
		base += "--" + c
	}
	id := base
	for n := 2; seen[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	seen[id] = true
	return id
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
	return intPart + " ms"
}

func optMSText(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmtMS(*v)
}
