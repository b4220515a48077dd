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
package harness
