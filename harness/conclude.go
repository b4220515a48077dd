package harness

import (
	"slices"

	"github.com/wschaos/wschaos/result"
)

// Expect names, for a mutant client, the check that must fail in each
// scenario that is meant to catch it: scenario name -> check name.
type Expect map[string]string

// Conclude works out a run from its scenarios: the summary counts, each
// mutant's standing and the run's verdict. A scenario against a client
// that is not a mutant passes or fails the run; a mutant (a client marked
// Mutant, with its expectations in expect by client name) is caught when
// every check named for it failed in a scenario that ran, and the run
// fails if one is not. The verdict is interrupted when the run was cut
// short, fail when anything failed, n/a when nothing could be judged, and
// pass otherwise.
func Conclude(r *result.Result, expect map[string]Expect) {
	var sum result.Summary
	failed := false
	mutant := map[string]*result.Client{}
	for i := range r.Clients {
		if r.Clients[i].Mutant {
			mutant[r.Clients[i].Name] = &r.Clients[i]
			sum.Mutants++
		}
	}
	for _, s := range r.Scenarios {
		if mutant[s.Client] != nil {
			sum.MutantRuns++
			continue
		}
		switch s.Verdict {
		case result.Pass:
			sum.Passed++
		case result.Fail:
			sum.Failed++
			failed = true
		case result.NotApplicable:
			sum.NotApplicable++
		case result.Interrupted:
			sum.Interrupted++
		case result.NotRun:
			sum.NotRun++
		}
	}
	for name, c := range mutant {
		judgeMutant(c, r.Scenarios, expect[name])
		if c.Caught {
			sum.MutantsCaught++
		} else if !r.Run.Interrupted {
			failed = true
		}
	}
	r.Summary = sum
	switch {
	case r.Run.Interrupted:
		r.Verdict = result.Interrupted
	case failed:
		r.Verdict = result.Fail
	case sum.Passed == 0 && sum.Mutants == 0:
		r.Verdict = result.NotApplicable
	default:
		r.Verdict = result.Pass
	}
}

// judgeMutant holds a mutant to its expectations: caught when each named
// check failed in its scenario. Checks that failed elsewhere are not
// evidence: a mutant caught by the wrong check is a mutant the suite does
// not understand.
func judgeMutant(c *result.Client, scenarios []result.Scenario, want Expect) {
	c.CaughtBy, c.Missed = nil, nil
	names := make([]string, 0, len(want))
	for sc := range want {
		names = append(names, sc)
	}
	slices.Sort(names)
	for _, sc := range names {
		check := want[sc]
		label := sc + ": " + check
		i := slices.IndexFunc(scenarios, func(s result.Scenario) bool { return s.Client == c.Name && s.Name == sc })
		if i < 0 {
			continue // not run (filtered out): neither caught nor missed
		}
		s := scenarios[i]
		j := slices.IndexFunc(s.Checks, func(ch result.Check) bool { return ch.Name == check })
		if s.Error == "" && j >= 0 && s.Checks[j].Failed() {
			c.CaughtBy = append(c.CaughtBy, label)
		} else {
			c.Missed = append(c.Missed, label)
		}
	}
	c.Caught = len(c.CaughtBy) > 0 && len(c.Missed) == 0
}
