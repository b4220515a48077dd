// Package reports defines the result of a wschaos run and writes it out for
// people and machines.
//
// A [Result] is one run: the [RunInfo] needed to reproduce it (version, Go,
// Toxiproxy mode and version, seed, command) and one [Scenario] per scenario
// and client, holding the faults as they took effect, the targets with the
// reason for each number, the checks (got against want, with the margin),
// the [Measured] figures and the full event timeline. Its JSON form carries
// the schema name [Schema] ("wschaos.result/v1"); readers reject any other.
//
// Three files come out of a result, all written by [WriteFiles]:
//
//   - result.json ([WriteJSON], read back with [ReadJSON] or [ReadFile]):
//     the stored history. Checks are pure functions of the timeline, so a
//     stored result can be checked again offline.
//   - index.html ([WriteHTML]): one self-contained page (no network
//     fetches, no script) with a verdict banner, the reproduce command, a
//     scenario-by-client matrix when more than one client ran (a failure
//     against a mutant shows as caught), a summary table and, per scenario
//     and client, a section: an SVG timeline with the fault windows shaded
//     and detection and recovery drawn against their budgets, the backoff
//     delays against the policy's envelope and, when several clients ran,
//     the spread of their recovery times and redials. A stress run's
//     section opens with its figures ([StressStats]): per fault the
//     percentiles of detection, redial and recovery, a recovery CDF and the
//     reconnects per 100 ms, then message totals and each process's
//     resource use. Runs against a mutant get a compact section (checks
//     only) except the first scenario that caught it, so a --mutants run
//     stays a page of a few MB.
//   - junit.xml ([WriteJUnit]): one testsuite "wschaos", one testcase per
//     scenario and client, for CI.
//
// The page and the XML depend only on the result (the page shows
// Result.GeneratedAt, never the clock), so the same result gives the same
// bytes. Templates are embedded from templates/; the golden files in
// testdata/ are refreshed with go test ./reports -update.
package reports
