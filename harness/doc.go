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
// A scenario with packet faults (PacketLoss, BurstLoss, MTUBlackHole...)
// runs over the packet link as well (link.go): a userspace network segment,
// seeded with the run's seed, whose client stack the reference client dials
// through, so its own TCP loses and retransmits packets, as on a real link.
// An outside client dials the tap, with the link behind it. The link's
// counters are on the timeline (link-stats) and in the result.
//
// # A run
//
// Run executes one Scenario in named phases: build the environment and the
// clients, arm the faults, start the clients and their workload, warm up
// (every client ready with traffic both ways), apply the schedule, settle,
// drain, judge. Every component's events are typed result.Event values on
// one timeline; the checks are pure functions of that timeline (a Timeline),
// so a stored result can be checked again offline. Conclude turns the
// scenarios of a run into its verdict and summary.
//
// # What is measured
//
//   - detection: the client's first declared loss after the fault was
//     issued, counted from the fault taking effect and, beside it, from the
//     start of the silence the client could observe (the last frame it
//     received before declaring the loss: the tap's last bytes towards it,
//     or its own deliveries and pongs), which is what a heartbeat promises;
//   - recovery: the first moment after the fault's end at which the client
//     is ready on a new connection (with the hello/welcome round trip for a
//     client that speaks the session protocol), counted from the fault's
//     end; downtime counts it from the last message delivered before the
//     fault;
//   - attempts, backoff delays against the policy's envelope, reconnects
//     per window across clients, and lost, duplicated and reordered
//     messages in each direction.
//
// A check with nothing to judge is n/a, never a pass; a scenario whose
// defining check (Defining) is n/a has verdict n/a.
//
// # Targets
//
// Every time target is a Bound: what the client's own configuration
// promises (HeartbeatBound, FirstRetry, PendingDelay, Recovery,
// OneHandshake, AtOnceBound) plus an allowance of 10 % of the bound and
// 25 ms for measurement and scheduling, stated in the target's reason. A
// slow machine stretches the profile (Scale), never the allowance.
//
// # Writing a scenario
//
// A scenario is data: a client profile, a fake server configuration, a
// fault schedule and the checks that derive their targets from the profile.
// A fault is a value with a start and a stop against the Env; the built-in
// ones cover Toxiproxy's toxics and the fake server's misbehaviour, and
// ToxicFault adds any Toxiproxy toxic by type and attributes. See
// Example_customScenario for a scenario of your own, run and written as a
// report, in about twenty lines.
//
// # Outside clients
//
// The client under test is the in-process reference client, or an outside
// program in any language (RunOptions.Command), one process per client:
// each gets the URL to dial in WSCHAOS_URL (a wire tap of its own, path
// /ws/<id>, so that the tap's and the fake server's events say whose
// connection is whose) and its id in WSCHAOS_CLIENT_ID, runs in its own
// process group, and is stopped with it (SIGTERM, then SIGKILL after 2 s)
// when the scenario ends. Its lifecycle is read off its tap and the fake
// server and recorded as client events marked result.ViaWire, so the same
// checks judge it; those that need its cooperation (message continuity)
// are n/a. A plain WebSocket client that never says hello is ready on the
// upgrade and gets raw pushes (fakeserver.Options.PlainAfter). An outside
// client is held to the profile it declares (Profile; Scenario.NoHeartbeat
// for none), from which scenarios.CatalogFor derives the catalogue. See
// external.go and examples/node-ws. For the reference client, CrossCheck
// holds its own account against the tap's.
//
// # A real server
//
// RunOptions.Upstream (an UpstreamServer) stands the chain in front of a
// real WebSocket server instead of the fake one; Env.Server is then nil.
// The reference client runs in plain mode (client.Options.Session false):
// ready on the upgrade, messages without sequence numbers, so the checks
// that count messages are n/a (Timeline.Plain). A scenario that needs the
// fake server (Scenario.NeedsServerReason: a fault on the server, an option
// only it has, a defining check that reads the session protocol) is not run
// and its result says why. Warm-up waits for every client to be ready and
// to hear from the server once since, a message or a pong; a server that
// answers neither never warms a run up. ProbeUpstream checks the server
// before a run. See examples/echo-server.
package harness
