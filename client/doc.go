// Package client is the reference WebSocket client of wschaos: the client
// the harness holds other clients to. It is usable as a library in
// production.
//
// A Client made with New and started with Run stays connected until its
// context ends. It detects dead peers, reconnects with jittered exponential
// backoff, keeps outbound messages in a bounded outbox until the server
// acknowledges them, resumes inbound delivery from the last sequence it
// received, and reports every state change as an Event (also logged through
// log/slog). The wire protocol is package protocol. See ExampleNew.
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
// error ends the connection at once. Independently, a sent message that stays
// unacknowledged for AckTimeout ends it ("ack-timeout"): that catches an
// upstream black hole while data still flows downstream. Teardown never waits
// on a dead peer: the close handshake gets CloseGrace, then the socket is
// closed.
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
// # Continuity
//
// Send assigns each message the next client sequence number and queues it in
// the outbox (bounded in messages, bytes and age; a full outbox is an error
// wrapping ErrOutboxFull, never a silent drop). Messages are written while
// Ready and stay in the outbox until the server acknowledges them; after a
// reconnect, those the welcome does not acknowledge are resent in order. The
// hello names the session and the last server sequence received; inbound
// messages are delivered to OnMessage once and in order, duplicates dropped,
// a jump in sequence reported as EventGap, and a session the server forgot
// reported as EventGap with SessionLost set. When the server ends the
// session fatally, the messages accepted and never acknowledged are not
// dropped silently: they are listed in FatalError.Undelivered and reported
// as EventUndelivered.
//
// # Testing
//
// The client reads the clock through the time package only, and takes its
// jitter from Options.Rand, so its unit tests run it inside a testing/synctest
// bubble over net.Pipe (Options.Dial) and assert exact fake-clock times: see
// liveness_test.go and reconnect_test.go.
package client
