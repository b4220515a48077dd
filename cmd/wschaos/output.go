package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wschaos/wschaos/result"
)

// printResults prints a line per scenario against a client that is not a
// mutant, then the mutants and the checks that caught each.
func printResults(w io.Writer, res *result.Result) {
	mutant := map[string]bool{}
	for _, c := range res.Clients {
		mutant[c.Name] = c.Mutant
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCLIENT\tVERDICT\tDETECT\tFROM SILENCE\tRECOVER\tDOWNTIME\tATTEMPTS\tFAILED CHECKS")
	for _, r := range res.Scenarios {
		if mutant[r.Client] {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.Client, strings.ToUpper(string(r.Verdict)),
			msOrDash(r.Measured.DetectMS), msOrDash(r.Measured.DetectSilenceMS), msOrDash(r.Measured.RecoverMS), msOrDash(r.Measured.DowntimeMS),
			r.Measured.Attempts, failedChecks(r))
	}
	tw.Flush()
	if res.Summary.Mutants > 0 {
		printMutants(w, res.Clients)
	}
}

func failedChecks(r result.Scenario) string {
	var out []string
	for _, c := range r.Checks {
		if c.Failed() {
			out = append(out, fmt.Sprintf("%s (got %s, want %s)", c.Name, c.Got, c.Want))
		}
	}
	if r.Error != "" {
		out = append(out, r.Error)
	}
	return strings.Join(out, "; ")
}

func printMutants(w io.Writer, clients []result.Client) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nMUTANT\tCAUGHT\tBY\tMISSED")
	for _, c := range clients {
		if !c.Mutant {
			continue
		}
		caught := "NO"
		if c.Caught {
			caught = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, caught, strings.Join(c.CaughtBy, "; "), strings.Join(c.Missed, "; "))
	}
	tw.Flush()
}

func msOrDash(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", *v)
}

// verdictLine states the run's verdict and its counts, n/a and not-run
// apart from pass and fail.
func verdictLine(res *result.Result) string {
	s := res.Summary
	line := fmt.Sprintf("%s: %d passed, %d failed, %d n/a", strings.ToUpper(string(res.Verdict)), s.Passed, s.Failed, s.NotApplicable)
	if s.Interrupted > 0 {
		line += fmt.Sprintf(", %d interrupted", s.Interrupted)
	}
	if s.NotRun > 0 {
		line += fmt.Sprintf(", %d not run", s.NotRun)
	}
	if s.Mutants > 0 {
		line += fmt.Sprintf("; mutants caught %d of %d", s.MutantsCaught, s.Mutants)
	}
	return line + fmt.Sprintf("; seed %d", res.Run.Seed)
}

// exitFor is the exit status of a run with verdict v.
func exitFor(v result.Verdict) int {
	switch v {
	case result.Pass:
		return exitOK
	case result.Interrupted:
		return exitInterrupted
	case result.NotApplicable:
		return exitNothingJudged
	}
	return exitFail
}
