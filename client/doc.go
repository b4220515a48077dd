// Package client is the reference WebSocket client of wschaos: the client
// the harness holds other clients to. It is usable as a library in
// production, against any RFC 6455 server.
//
// A Client made with New and started with Run stays connected until its
// context ends. It works in two layers:
//
//   - The connection layer, always on, works against any WebSocket server:
//     it detects dead peers with WebSocket pings and pongs, reconnects with
//     jittered exponential backoff, reads the server's close code or HTTP
//     status by the taxonomy below (honouring Retry-After and 1013 hints),
//     and reports every state change as an Event (also logged through
//     log/slog).
//   - The session layer, on with Options.Session, needs a server that speaks
//     package protocol (wschaos's fake server does): hello and welcome, an
//     outbox that keeps each message until the server acknowledges it,
//     resend after a reconnect, and inbound delivery resumed from the last
//     sequence received.
//
// ExampleNew runs a plain client against a plain echo server;
// ExampleNew_session the session layer.
//
// # Plain mode
//
// With Options.Session false (the default) the connection is ready on the
// upgrade: EventConnected and EventReady come together, and nothing of the
// client's own goes on the wire but pings. Send writes a text message when
// a connection is ready and queues, bounded by the outbox limits, while
// there is none; a message leaves the queue once written to a connection,
// and one not yet written when a connection is lost is written on the next.
// There is no acknowledgement, so no resend guarantee: a message written
// just before a loss may never arrive, and the client cannot know. OnMessage
// gets every inbound message as it came, text or binary (Message.Binary),
// with Seq 0. Liveness is the heartbeat alone: there is no ack timeout, so
// an upstream black hole is noticed only when the peer falls silent too (a
// server that answers pings and otherwise only replies does). In both modes
// Send refuses bodies over 512 KiB, and an inbound message over 1 MiB ends
// the connection (close 1009).
//
// # Detection bound
//
// Any inbound frame (a data message, a ping or a pong) counts as liveness.
// After PingInterval of inbound silence the client sends one ping; after
// PingInterval+PongTimeout of silence the connection is dead (cause
// "heartbeat"). The worst-case time from a peer's death to the client
// declaring it is therefore PingInterval+PongTimeout, which
// Client.DetectionBound returns; the detector runs on a timer re-armed to the
// exact deadline, so the bound is met exactly, not to within a tick. A read
// error ends the connection at once. Independently, in session mode, a sent
// message that stays unacknowledged for AckTimeout ends it ("ack-timeout"):
// that catches an upstream black hole while data still flows downstream.
// Teardown never waits on a dead peer: the close handshake gets CloseGrace,
// then the socket is closed.
//
// # Reconnect
//
// After a loss the client classifies the cause (table below). A fatal class
// stops Run with a *FatalError. Otherwise the attempt counter goes up and the
// client waits Backoff.Delay(attempt): Initial*Multiplier^(attempt-1), capped
// at Max, then jittered down by up to Jitter of itself, so delays at the cap
// stay spread. For the retry-hint class the wait is at least the server's
// hint, clamped to [Backoff.Initial, HintMax] (Backoff.Max when the server
// gave none), plus up to Jitter of the hint. The initial connect is retried by
// the same policy. The counter resets only after a connection stayed Ready for
// MinHealthyUptime, so a server that accepts and drops at once cannot keep
// the client reconnecting fast.
//
// # Close-reason taxonomy
//
// WebSocket close codes (from the peer's close frame; 1006 stands for a
// connection that died without one):
//
//	code        class       why
//	1000        retry       normal closure: the server ended this connection, not the session
//	1001        retry       going away: server shutdown or restart
//	1002        retry       protocol error: a fresh connection starts clean
//	1003        retry       unsupported data: as 1002
//	1006        retry       abnormal closure (no close frame): the transport died
//	1007        retry       invalid payload data: as 1002
//	1008        fatal       policy violation: the server refuses this client; retrying repeats it
//	1009        retry       message too big: as 1002
//	1010        retry       mandatory extension: as 1002
//	1011        retry       internal error: a server fault, likely transient
//	1012        retry       service restart
//	1013        retry-hint  try again later: wait the hint in the reason ("2s" or "2"), else Backoff.Max
//	4401        fatal       logged out: the session is gone for good
//	4403        fatal       forbidden
//	4429        retry-hint  too many requests: as 1013
//	4440        fatal       replaced: another connection took the session; retrying would fight it
//	4000-4999   retry       other application codes
//	other       retry       unknown: assume transient
//
// HTTP statuses refusing the upgrade:
//
//	status      class       why
//	401         fatal       unauthorized: credentials will not fix themselves
//	403         fatal       forbidden
//	428         retry       precondition required (proxies, and Baileys' "connection closed")
//	429         retry-hint  too many requests: wait Retry-After (seconds or HTTP date), else Backoff.Max
//	503         retry-hint  service unavailable: as 429
//	other       retry       other 4xx and 5xx: a proxy or server hiccup
//
// Detector and transport causes (heartbeat, ack-timeout, read-error,
// write-error, dial-error, handshake-timeout, protocol-error) are all retry.
//
// # Session mode: continuity
//
// With Options.Session, Send assigns each message the next client sequence
// number and queues it in the outbox (bounded in messages, bytes and age; a
// full outbox is an error wrapping ErrOutboxFull, never a silent drop).
// Messages are written while Ready and stay in the outbox until the server
// acknowledges them; after a reconnect, those the welcome does not
// acknowledge are resent in order. The hello names the session and the last
// server sequence received; inbound messages are delivered to OnMessage once
// and in order, duplicates dropped, a jump in sequence reported as EventGap,
// and a session the server forgot reported as EventGap with SessionLost set.
//
// In either mode, when the server ends the session fatally the messages
// accepted and never acknowledged (plain mode: never written) are not
// dropped silently: they are listed in FatalError.Undelivered and reported
// as EventUndelivered.
//
// # Through a relay
//
// A client that dials a server through a TCP relay (wschaos's chain, a
// port forward) dials the relay's address while TLS and HTTP expect the
// server's name: Options.TLSConfig's ServerName names the certificate to
// verify and Options.Host the Host header to send.
//
// # Testing
//
// The client reads the clock through the time package only, and takes its
// jitter from Options.Rand, so its unit tests run it inside a testing/synctest
// bubble over net.Pipe (Options.Dial) and assert exact fake-clock times: see
// liveness_test.go, reconnect_test.go and plain_test.go.
package client
