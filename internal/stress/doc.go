// Package stress runs many reference clients against fake servers behind
// proxies under a seeded random schedule of mass faults (proxy down, black
// hole, latency spike, abrupt close, close frames, server restart), and
// aggregates what the catalogue's checks measure per client into
// distributions: detection and recovery percentiles per fault, lost and
// duplicated messages per direction, reconnects per 100 ms window, attempts,
// and every process's resource use.
//
//	coordinator ──┬── chain shard 1: fake servers, each behind a relay (or Toxiproxy)
//	              ├── chain shard 2: ...
//	              ├── worker 1: clients c1..c2500    (client i dials proxy (i-1) mod P)
//	              └── worker 2: clients c2501..c5000
//
// One process may hold at most 20,000 open files. A client costs a chain
// one (the relay's end of the client's TCP connection: the relay hands
// each connection to its fake server in memory, over package memnet; with
// Toxiproxy, which dials over TCP, three) and its worker one, so the chain
// runs in chain shards (`wschaos shard`, ChainShardsFor sizes them to 60 %
// of the descriptor limit) and the clients in workers (`wschaos worker`),
// both started by re-executing the wschaos binary; the coordinator holds
// neither and only measures. Workers stream their clients'
// events and chain shards their servers' message events back as JSON lines
// on stdout, each a result.Event with every figure in a typed field; the
// coordinator sends configuration and commands as JSON lines on their stdin
// (see wire.go). Both ends decode every line strictly, and a child whose
// line does not decode is stopped and the run fails its "workers" check.
// Message events, most of the lines, are written and read without
// encoding/json but in exactly its bytes (wirefast.go): the reader takes
// only that form and leaves any other line to the strict decoder.
//
// Every fault step is sent to every chain shard for one moment, stepLead
// ahead; each shard sleeps until then, applies it to all its proxies or
// servers at once and reports when it began and when the step returned.
// The fault's window runs from the first shard to begin to the last to
// finish, and the result keeps every shard's times and the skew between
// them (StressFault.Shards, StartSkewMS, EndSkewMS).
//
// A run can also be one shard of a run split over machines (Split: its
// share of the clients, its own chain, the schedule started at a scheduled
// wall-clock time). Every fault keeps each client's raw figures
// (StressFault.Raw), and Merge combines the shard runs' results by
// computing the distributions again over every client.
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
// Run is the coordinator, RunWorker a worker, RunShard a chain shard.
// Children are always stopped: Run closes their stdin, waits, then kills
// their process group, and on Linux a child dies with its parent
// (Pdeathsig).
package stress
