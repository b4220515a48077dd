package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r to w as JUnit XML: one testsuite named "wschaos" with
// one testcase per scenario and client (classname the client, name the
// scenario, time in seconds). A failed scenario carries a failure whose
// message lists its failed checks with got, want and margin; a scenario that
// could not run (Scenario.Error) carries an error instead, so CI can tell a
// broken setup from a client that missed its targets. Against a mutant
// (Result.Clients) failing is the point: those testcases pass and say what
// caught the mutant, and each mutant gets one more testcase, named "Caught",
// that fails when no scenario caught it.
func WriteJUnit(w io.Writer, r *Result) error {
	if r == nil {
		return fmt.Errorf("%w: nil result", ErrInvalid)
	}
	suite := junitSuite{
		Name: "wschaos",
		Time: seconds(r.Run.DurationMS),
		Properties: []junitProperty{
			{"schema", r.Schema},
			{"version", r.Run.Version},
			{"go_version", r.Run.GoVersion},
			{"toxiproxy_mode", r.Run.ToxiproxyMode},
			{"toxiproxy_version", r.Run.ToxiproxyVersion},
			{"seed", strconv.FormatInt(r.Run.Seed, 10)},
			{"command", r.Run.Command},
		},
	}
	if !r.GeneratedAt.IsZero() {
		suite.Timestamp = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	mutants := mutantSet(r)
	for _, s := range r.Scenarios {
		c := junitCase{
			Classname: orUnknown(s.Client),
			Name:      orUnknown(s.Name),
			Time:      seconds(s.DurationMS),
			SystemOut: junitMeasured(s),
		}
		switch {
		case mutants[s.Client] && s.Error == "":
			// A mutant failing is the suite working; whether each mutant
			// was caught at all is its own testcase below.
			if s.Verdict != Pass {
				msg, _ := junitFailure(s)
				c.SystemOut = "mutant caught: " + msg + "\n" + c.SystemOut
			} else {
				c.SystemOut = "mutant not caught by this scenario\n" + c.SystemOut
			}
		case s.Error != "":
			c.Error = &junitProblem{Message: s.Error, Type: "setup", Text: s.Error}
			suite.Errors++
		case s.Verdict != Pass:
			msg, text := junitFailure(s)
			c.Failure = &junitProblem{Message: msg, Type: "check", Text: text}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, m := range r.Clients {
		if !m.Mutant {
			continue
		}
		c := junitCase{Classname: orUnknown(m.Name), Name: "Caught", Time: seconds(0)}
		if m.Caught {
			c.SystemOut = "caught by " + strings.Join(m.CaughtBy, "; ")
		} else {
			c.Failure = &junitProblem{Message: "mutant " + m.Name + " passed every scenario: no check catches it", Type: "mutant"}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{
		Name: "wschaos", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitSuite{suite},
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: encode junit: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// junitFailure returns the one-line message and the full text of a failed
// scenario's failure element.
func junitFailure(s Scenario) (msg, text string) {
	var parts, lines []string
	for _, c := range s.Checks {
		if c.OK {
			continue
		}
		line := fmt.Sprintf("%s: got %s, want %s", c.Name, c.Got, c.Want)
		if c.Margin != "" {
			line += " (" + c.Margin + ")"
		}
		parts = append(parts, line)
		lines = append(lines, line)
	}
	if len(parts) == 0 {
		return "verdict fail with no failed check recorded", "verdict fail with no failed check recorded"
	}
	return fmt.Sprintf("%d failed check(s): %s", len(parts), strings.Join(parts, "; ")), strings.Join(lines, "\n")
}

// junitMeasured summarises the figures for system-out, so a CI page shows
// them next to the verdict.
func junitMeasured(s Scenario) string {
	m := s.Measured
	return fmt.Sprintf("detect_ms=%s recover_ms=%s downtime_ms=%s attempts=%d reconnects=%d",
		optMS(m.DetectMS), optMS(m.RecoverMS), optMS(m.DowntimeMS), m.Attempts, m.Reconnects)
}

func optMS(v *float64) string {
	if v == nil {
		return "none"
	}
	return num(*v)
}

func seconds(ms float64) string {
	if !finite(ms) || ms < 0 {
		ms = 0
	}
	return strconv.FormatFloat(ms/1000, 'f', 3, 64)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
