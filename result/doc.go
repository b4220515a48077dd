// Package result is the versioned result of a wschaos run and the one typed
// vocabulary of the events on its timelines. The harness and the stress
// runner write it, the reports package renders it, and nothing in it
// measures anything: every figure is computed once, by the harness, and
// stored here.
//
//	harness ──> result <── reports
//
// A [Result] is one run: the [RunInfo] needed to reproduce it and one
// [Scenario] per scenario and client, holding the faults as they took
// effect, the targets (each with the configured bound, the allowance and
// the reason for both), the checks (got against want, with the margin and a
// verdict of pass, fail or n/a), the [Measured] figures and the full event
// timeline.
//
// # Events
//
// Every component (the client, the fake server, the wire tap, the packet
// link and the harness) records [Event] values from one vocabulary: a
// typed [Kind] that belongs to exactly one [Source], and typed fields for
// the cause ([Cause]), the close code ([CloseCode]) or HTTP status, the
// attempt, the delay, the connection, sequence numbers and byte counts.
// Text in an event is for people and is never parsed. [Vocabulary] lists
// every kind with its meaning; docs/events.md is generated from it.
//
// # JSON
//
// The JSON form carries the schema name [Schema] ("wschaos.result/v2").
// [Read] decodes a result as a stream through a size cap and refuses
// results of another schema (a v1 result, written before the typed event
// model, is refused with a message that says so), corrupt input with the
// line and column of the problem, and values outside their sets.
package result
