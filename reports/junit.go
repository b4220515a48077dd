package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wschaos/wschaos/result"
)

// junitCounts are the attributes a suite and the document both carry.
type junitCounts struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	junitCounts
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
	Skipped   *junitSkip    `xml:"skipped"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitSkip struct {
	Message string `xml:"message,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes r to w as JUnit XML: one testsuite named "wschaos" with
// one testcase per scenario and client (classname the client, name the
// scenario, time in seconds). A failed scenario carries a failure whose
// message lists its failed checks with got, want and margin; one that
// could not run (Scenario.Error with verdict fail) carries an error
// instead, so CI can tell a broken setup from a client that missed its
// targets. A scenario with nothing to judge (n/a), not run, or interrupted
// is skipped, with a message that says which and why. Against a mutant
// (Result.Clients) failing is the point: those testcases pass and say what
// caught the mutant, and each mutant gets one more testcase, named
// "Caught", that fails when the result says it was not caught.
func WriteJUnit(w io.Writer, r *result.Result) error {
	if r == nil {
		return errNilResult
	}
	suite := junitSuite{junitCounts: junitCounts{Name: "wschaos", Time: seconds(r.Run.DurationMS)}, Properties: junitProperties(r)}
	if !r.GeneratedAt.IsZero() {
		suite.Timestamp = r.GeneratedAt.UTC().Format(time.RFC3339)
	}
	mutants := mutantSet(r)
	for i := range r.Scenarios {
		c := junitScenario(&r.Scenarios[i], mutants[r.Scenarios[i].Client])
		suite.Cases = append(suite.Cases, c)
	}
	for _, m := range r.Clients {
		if m.Mutant {
			suite.Cases = append(suite.Cases, junitCaught(&m))
		}
	}
	for _, c := range suite.Cases {
		switch {
		case c.Skipped != nil:
			suite.Skipped++
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		}
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{junitCounts: suite.junitCounts, Suites: []junitSuite{suite}}
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

func junitProperties(r *result.Result) []junitProperty {
	timescale := "1"
	if finite(r.Run.Timescale) && r.Run.Timescale != 0 {
		timescale = strconv.FormatFloat(r.Run.Timescale, 'g', -1, 64)
	}
	return []junitProperty{
		{"schema", r.Schema},
		{"verdict", string(r.Verdict)},
		{"version", r.Run.Version},
		{"go_version", r.Run.GoVersion},
		{"toxiproxy_mode", r.Run.ToxiproxyMode},
		{"toxiproxy_version", r.Run.ToxiproxyVersion},
		{"seed", strconv.FormatInt(r.Run.Seed, 10)},
		{"timescale", timescale},
		{"upstream", r.Run.Upstream},
		{"interrupted", strconv.FormatBool(r.Run.Interrupted)},
		{"race", strconv.FormatBool(r.Run.Race)},
		{"command", r.Run.Command},
	}
}

// junitScenario is the testcase of one scenario against one client.
func junitScenario(s *result.Scenario, mutant bool) junitCase {
	c := junitCase{Classname: orUnknown(s.Client), Name: orUnknown(s.Name), Time: seconds(s.DurationMS), SystemOut: junitMeasured(s)}
	switch {
	case s.Verdict == result.Interrupted:
		c.Skipped = &junitSkip{Message: "interrupted: " + or(s.Error, "the run was cut short while this scenario ran")}
	case s.Verdict == result.NotRun:
		c.Skipped = &junitSkip{Message: "not run: " + or(s.Error, "the result does not say why")}
	case s.Verdict == result.NotApplicable:
		c.Skipped = &junitSkip{Message: "n/a: " + problemOf(s).Text}
	case mutant && s.Error == "":
		// A mutant failing is the suite working; whether each mutant
		// was caught at all is its own testcase.
		if s.Verdict == result.Fail {
			msg, _ := junitFailure(s)
			c.SystemOut = "mutant caught: " + msg + "\n" + c.SystemOut
		} else {
			c.SystemOut = "mutant not caught by this scenario\n" + c.SystemOut
		}
	case s.Error != "" && s.Verdict == result.Fail:
		c.Error = &junitProblem{Message: s.Error, Type: "setup", Text: s.Error}
	case s.Verdict != result.Pass:
		msg, text := junitFailure(s)
		c.Failure = &junitProblem{Message: msg, Type: "check", Text: text}
	}
	return c
}

// junitCaught is a mutant's own testcase: it fails unless the result says
// the mutant was caught.
func junitCaught(m *result.Client) junitCase {
	c := junitCase{Classname: orUnknown(m.Name), Name: "Caught", Time: seconds(0)}
	if m.Caught {
		c.SystemOut = "caught by " + strings.Join(m.CaughtBy, "; ")
		return c
	}
	msg := "mutant " + m.Name + " was not caught"
	if len(m.Missed) > 0 {
		msg += ": these checks did not fail against it: " + strings.Join(m.Missed, "; ")
	}
	c.Failure = &junitProblem{Message: msg, Type: "mutant"}
	if len(m.CaughtBy) > 0 {
		c.Failure.Text = "failed as named: " + strings.Join(m.CaughtBy, "; ")
	}
	return c
}

// junitFailure returns the one-line message and the full text of a failed
// scenario's failure element.
func junitFailure(s *result.Scenario) (msg, text string) {
	var lines []string
	for _, c := range s.Checks {
		if !c.Failed() {
			continue
		}
		line := fmt.Sprintf("%s: got %s, want %s", c.Name, c.Got, c.Want)
		if c.Margin != "" {
			line += " (" + c.Margin + ")"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		none := "verdict " + string(s.Verdict) + " with no failed check recorded"
		return none, none
	}
	return fmt.Sprintf("%d failed check(s): %s", len(lines), strings.Join(lines, "; ")), strings.Join(lines, "\n")
}

// junitMeasured summarises the figures for system-out, so a CI page shows
// them next to the verdict.
func junitMeasured(s *result.Scenario) string {
	m := s.Measured
	out := fmt.Sprintf("detect_ms=%s detect_silence_ms=%s recover_ms=%s downtime_ms=%s attempts=%d reconnects=%d",
		optMS(m.DetectMS), optMS(m.DetectSilenceMS), optMS(m.RecoverMS), optMS(m.DowntimeMS), m.Attempts, m.Reconnects)
	if m.Via == result.ViaWire {
		out += " via=wire"
	}
	return out
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
