// Package groundtruth holds scenarios whose detection and recovery times
// follow exactly from their configuration, so the harness's measurements can
// be held against a known answer: harness/groundtruth_test.go asserts them,
// and the bench package reports the error distribution as the harness's
// measurement error (README, "Performance figures").
//
// Every case runs the reference client with jitter off
// (client.Backoff{NoJitter: true}), one client, no workload and a fast server
// push, so that the only inbound frames are the pushes and the client's
// retry instants are Backoff.Initial × (1, 3, 7, ...) after the loss.
//
//   - BlackHole: the heartbeat fires exactly PingInterval+PongTimeout after
//     the last inbound frame, which is at most one push interval before the
//     fault. Detection is therefore in [bound - push, bound], and exactly
//     (last delivery + bound) - fault start.
//   - ProxyDown*: the proxy closes every connection with FIN, so detection is
//     0; the client then retries at Initial, 3×Initial, 7×Initial, ... after
//     the fault start, refused until the proxy is back, so recovery is the
//     first retry instant at or after the fault end, minus the fault end.
//
// The truth is computed against the fault window as the harness recorded it
// (start and end after the Toxiproxy call returned); what is left, the error,
// is timer and scheduling lateness, the loopback handshake (about 1-5 ms,
// which the truth leaves out) and the recording itself.
//
// Case.Run runs a case with a timer probe alongside: the truth assumes timers
// fire on time, so a stall of the machine (a loaded 2-core box, the race
// detector) during a figure's window widens that figure's allowance by the
// stall, and the figure says so (Figure.Stall).
package groundtruth
