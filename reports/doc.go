// Package reports renders a wschaos result (package result, schema
// "wschaos.result/v2") for people and for CI. It draws what the result
// holds and measures nothing: every figure, moment, band, percentile and
// verdict on the page comes from the result as the harness stored it.
//
// Three files come out of a result, all written by [WriteFiles], atomically:
//
//   - result.json: the result itself, as result.Marshal writes it; read it
//     back with result.ReadFile.
//   - index.html ([WriteHTML]): one self-contained page (no network
//     fetches, no script). A verdict banner (pass green, fail red,
//     interrupted amber, n/a grey) with the run's counts from
//     Result.Summary, the run's metadata and the command to reproduce it,
//     the clients with their declared profiles, a scenario-by-client matrix
//     when more than one client ran (a failure against a mutant shows as
//     caught), a summary table and, per scenario and client, a section: its
//     faults, targets and checks (n/a shown as n/a, never as passed), an SVG
//     timeline of every event in lanes by source with the fault windows
//     shaded and detection (from the fault and from the client's silence)
//     and recovery drawn between the moments the result holds, against
//     their budgets; the backoff delays, each against the band the result
//     gives for it; and, when several clients ran, the spread the result
//     holds: percentiles, the recovery CDF and the dials per window against
//     the herd limit. A stress run's section opens with its figures
//     (result.StressStats). Events and figures read off the wire (an
//     outside client) are marked as such. Runs against a mutant get a
//     compact section except the first scenario that caught it.
//   - junit.xml ([WriteJUnit]): one testsuite "wschaos", one testcase per
//     scenario and client, for CI: a failure lists the failed checks, a
//     scenario that could not run is an error, and one with nothing to
//     judge, not run or interrupted is skipped with the reason.
//
// The page and the XML depend only on the result (the page shows
// Result.GeneratedAt, never the clock), so the same result gives the same
// bytes. Templates are embedded from templates/; the golden files in
// testdata/ are refreshed with go test ./reports -update.
package reports
