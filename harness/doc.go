// Package harness runs scenarios: it builds the environment (fake server,
// Toxiproxy proxy, wire tap), starts the clients and their workload, applies
// the fault schedule, records every component's events on one clock, and
// holds the timeline against the scenario's targets.
//
//	client ──> wire tap ──> Toxiproxy proxy ──> fake server
//
// Toxiproxy runs embedded in-process unless RunOptions.ToxiproxyURL (the
// wschaos command reads TOXIPROXY_URL) names an external toxiproxy-server.
//
// Measurements follow DESIGN.md: detection is the client's declared loss
// minus the fault start; recovery is the first moment after the fault end at
// which the client is ready on a new connection with a hello/welcome round
// trip done, minus the fault end; downtime is that moment minus the last
// message delivered before the fault. Checks are pure functions of the
// recorded Timeline, so a stored result can be checked again offline.
//
// Every time target is a bound derived from the client's options plus Slack,
// a stated scheduling allowance; see the scenarios package for the catalogue.
//
// The client under test is the in-process reference client, or an outside
// program in any language (RunOptions.Command): it gets the URL to dial in
// WSCHAOS_URL, runs in its own process group, and is stopped with it
// (SIGTERM, then SIGKILL after 2 s) when the scenario ends. Its lifecycle is
// read off the wire tap and the fake server and recorded as client events
// marked ObservedByTap, so the same checks judge it; those that need its
// cooperation (message continuity) report NotApplicable. See external.go and
// examples/node-client. For the reference client, CrossCheck holds its own
// account against the tap's.
package harness
