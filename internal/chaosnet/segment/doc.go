// Package segment is a userspace network segment with packet-level faults:
// loss, bursts, delay and jitter, reordering, duplication, corruption, a
// bandwidth cap, an MTU black hole and a black hole. Toxiproxy acts on the
// byte stream and cannot lose a packet; tc netem needs root and a kernel
// module. A Segment needs neither: it runs inside the process, in `go test`,
// on any machine, and replays from a seed.
//
// # How it works
//
// Two TCP/IP stacks from gVisor's netstack, a client stack (10.66.0.1) and a
// server stack (10.66.0.2), are joined by a link. Each direction of the
// link has a goroutine that reads every IP packet the sending stack puts
// on its NIC, decides its fate and injects it into the other stack (a
// second goroutine delivers the packets it holds for later). TCP itself,
// retransmission, RTO backoff, SACK recovery, congestion and flow control
// windows, is the stacks' own, not an imitation.
//
//	in-process client ── Dial ─┐
//	                            client stack ══ link ══ server stack ── relay ──> upstream (kernel loopback)
//	outside client ──> Addr ───┘     (faults per direction)
//	      (entry relay)
//
// The server stack accepts every connection and relays it, over the
// kernel's loopback, to the upstream address given to [New]: the wire tap
// and Toxiproxy of the harness, so packet faults compose with every
// byte-stream fault behind them. A client in this process uses [Segment.Dial]
// as its dial hook, and its TCP runs in the client stack, faults and all. A
// client outside the process (any language) connects to [Segment.Addr], the
// entry relay, which opens a connection through the client stack for each
// one. That client's own kernel TCP ends at the relay, on loopback, and sees
// no packet loss itself, only its effects: stalls, delay, reduced
// throughput, and the closes and resets the relay passes on.
//
// The relays pass closes on as they happen: an EOF becomes a half-close
// (FIN) of the other side, a reset resets the other side. An upstream that
// refuses the connection resets the client's, which the server stack had
// already accepted.
//
// # Faults
//
// [Faults] are set per [Direction] ([Up] is client to server) in [Options]
// and changed at run time with [Segment.SetFaults]. The zero Faults passes
// everything. Corrupted packets are delivered and dropped by the receiving
// stack's TCP checksum check: the link endpoints claim no checksum
// offload, so the stacks compute and verify checksums as a kernel does.
// The MTU black hole drops packets silently; netstack does no path-MTU
// probing, so a connection stalls once its segments exceed the limit, as on
// a path whose ICMP "fragmentation needed" is filtered.
//
// # Determinism
//
// Every random decision comes from a PCG generator seeded with
// ([Options.Seed], direction). Every packet draws the same set of numbers
// in the order the direction's reader sees packets, whatever faults are
// set, so the n-th packet of a direction meets the same fate in every run
// with the same seed and faults: a replay with the same traffic drops the
// same packets. The traffic itself is the stacks' and the clients' and
// runs in real time: when two timers race (both ends retransmitting at
// once), the packets can differ from run to run, and so do the decisions
// from there on. [Options.Trace] reports every decision.
//
// # Tunables
//
// MTU 1500 by default (Ethernet). SACK on and CUBIC congestion control, as
// on Linux, and gvisor's 200ms minimum RTO, Linux's too. TCP buffers are
// gvisor's defaults, 1 MiB each way with receive auto-tuning up to 4 MiB.
// TIME_WAIT is 5s instead of 60s, to keep a reconnecting herd from piling
// up endpoints. Each NIC queues up to 1024 packets before its stack drops
// (the link reads them as fast as it can, so only a starved process gets
// there).
//
// # Cost
//
// Measured with `make bench` (medians of 5 runs) on a 2-core amd64
// machine that other jobs were loading, Go 1.26:
//
//   - A segment: 10 goroutines with GOMAXPROCS 2 (the link's reader and
//     deliverer per direction, two accept loops, and each stack's
//     GOMAXPROCS TCP processors), about 100 KiB of heap, one descriptor.
//   - A connection through Dial, idle: 2 goroutines (the relay upstream),
//     about 28 KiB of heap (16 KiB of it the relay's copy buffers, most of
//     the rest the two stacks' TCP endpoints) and 10 KiB of goroutine
//     stack, one descriptor (the relay's socket upstream).
//   - A connection through the entry relay, idle: 4 goroutines, about
//     46 KiB of heap and 21 KiB of stack, two descriptors.
//   - A 64-byte echo round trip with no faults: 2.5x direct kernel loopback
//     through Dial (about 48µs against 17-30µs), 3.9x through the entry
//     relay. Bulk throughput: about 0.08x direct loopback, some 140 MB/s,
//     100,000 full packets a second: each packet is copied once and handed
//     from stack to stack by the link goroutine. Ample for WebSocket
//     clients under test; a Bandwidth fault below it is exact. A later run
//     (2026-11-29, the README's figures) measured 3.8x through Dial (55µs
//     against 15µs), 5.0x through the entry relay and 0.13x (300 MB/s) for
//     bulk throughput: the ratios move with the machine's load.
package segment
