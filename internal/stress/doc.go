// Package stress runs many reference clients against one fake server and
// one Toxiproxy proxy under a seeded random schedule of mass faults (proxy
// down, black hole, latency spike, abrupt close, close frames, server
// restart), and aggregates what the catalogue's checks measure per client
// into distributions: detection and recovery percentiles per fault, lost and
// duplicated messages per direction, reconnects per 100 ms window, attempts,
// and the harness's own resource use.
//
//	coordinator: fake server <── Toxiproxy proxy <──┬── worker process 1: clients c1..c2500
//	                                                └── worker process 2: clients c2501..c5000
//
// One process may hold at most 20,000 open files and each proxied client
// costs about three in the coordinator (Toxiproxy two, server one) and one in
// its worker, so clients run in worker processes (`wschaos worker`, started
// by re-executing the wschaos binary) that stream their events back as JSON
// lines on stdout, each event a result.Event as harness.ClientEvent makes it,
// every figure in a typed field; the coordinator sends its configuration and
// commands as JSON lines on their stdin (see wire.go). Both ends decode every
// line strictly, and a worker whose line does not decode is stopped and the
// run fails its "workers" check.
//
// The coordinator measures every client's detection and recovery with
// harness.Timeline.Measure, one client and one fault at a time, so the
// figures mean what they mean in the catalogue; the distributions, CDFs and
// histograms are the harness's (harness.Distribute, CDF, Histogram), and
// message continuity and backoff delays are judged by the harness's own
// checks (NoLoss, DelaysWithinPolicy) on each client's timeline. Time
// targets are harness.Bound values whose allowance is HerdAllowance, stated
// with the measurements that sized it. There is no wire tap in stress mode:
// it would double the descriptors per client, and the reference client
// reports its own events. Without it detection counts from the fault, not
// from the silence before it (see Bounds).
//
// The schedule (NewSchedule) is drawn from a seed; each fault starts at its
// planned time or, if some client is not back from the previous fault yet,
// once every client has been ready for MinHealthyUptime, so a slow recovery
// fails the fault that caused it instead of cascading.
//
// Run is the coordinator; RunWorker is a worker. Workers are always stopped:
// Run closes their stdin, waits, then kills their process group, and on
// Linux a worker dies with its parent (Pdeathsig).
package stress
