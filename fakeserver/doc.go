// Package fakeserver is a fake WebSocket server that speaks package protocol
// and misbehaves on command, for testing how WebSocket clients detect and
// recover from failures that no network tool can produce.
//
// New starts it on a loopback port (Options.Addr), plain or with TLS and a
// generated certificate (Options.TLS, Server.CertPool). Clients connect to
// Server.URL, path /ws, or to /ws/<id>, which names the client (letters,
// digits, '-', '_' and '.'): every event of that connection carries the id
// (except hello, which names the id the hello gave), so clients that never
// say hello, or say it with another id, can be told apart. Other paths get 404. See ExampleNew.
//
// # Protocol
//
// A client says hello and gets a welcome naming its session (see package
// protocol). Each session has a server-to-client sequence: every
// Options.PushInterval it gets a msg with body "s<seq>", also while its
// client is away, and keeps the latest Options.ResumeMessages for replay. A
// session outlives its connection by Options.ResumeWindow. A hello that names
// a live session of the same client id resumes it: the welcome carries the
// last client sequence delivered (ack) and the first server sequence to
// come (from_seq), and the held messages are replayed from there; what fell
// out of the ring is reported as gap. A hello naming an expired session gets
// a new session that continues the old numbering and reports everything the
// client missed as gap; after ForgetSessions, or for a session never seen,
// the new session starts at 1 with no gap (nothing is known).
//
// When a client id says hello on a second connection, the first is closed
// with StatusReplaced (4440, "replaced").
//
// Client msgs are delivered once each: a seq delivered before is a
// duplicate (event "dup", not delivered); a seq beyond a hole is delivered
// and the hole stays open ("ahead"); a seq that fills a hole behind a later
// one is delivered as reordered ("late"). The cumulative ack covers the run
// delivered from 1 without a hole. Acks are sent as soon as the connection's
// writer is free; acks for msgs that arrive while it is busy are coalesced.
// When the server closes a connection it first writes the ack of everything
// it delivered, and delivers nothing it reads after that, so a client that
// reads until the close frame knows exactly which of its messages arrived.
// An expired session's deduplication carries over to the new session of the
// same client (the hello names the old one): its welcome acknowledges what
// was delivered, and a message resent after its ack was lost with the link
// is a duplicate, not a second delivery. ForgetSessions (a restart without
// state) forgets that too, as a real restart would. Acks from the client are
// recorded and trim nothing.
//
// Echo envelopes are answered with the same id and body. Text that is not an
// envelope (protocol.IsEnvelope) and is valid UTF-8 is echoed back unchanged, so clients that do
// not speak the protocol still get round trips; they never need to say
// hello unless Options.HelloTimeout is set.
//
// # Plain WebSocket clients
//
// With Options.PlainAfter set, a connection that says no hello within it
// is a plain client (event plain): every PushInterval it gets the raw text
// "p<seq>", seq in ten digits ("p0000000001"; event push, seq from 1 per
// connection), so that traffic flows
// to a client that only echoes, and its echo of a push comes back as
// event raw with that seq, not echoed again (which would loop). A client
// that says hello in time never sees raw text.
//
// Hostile input never brings the server down: a malformed envelope, a msg
// before hello, a second hello or a client-sent welcome closes that
// connection with 1008 (policy violation); a text message that is not valid
// UTF-8, envelope or raw, with 1007 (invalid frame payload data, as RFC 6455
// section 8.1 requires); a binary message with 1003; a message over
// protocol.MaxFrameSize with 1009. Each is a bad-frame event with that Code.
//
// # Controls
//
// All controls are safe to call concurrently and return quickly:
//
//   - CloseAll: close frame with any code and reason on every connection.
//   - DropAll: close TCP without a close frame (the client sees 1006).
//   - DropMidFrame: write a frame header and half its payload, then close TCP.
//   - SetMutePongs: read pings but withhold pongs; TCP stays healthy and pushes
//     go on, so set the push interval to 0 for a silent peer.
//   - SetReject: refuse upgrades with an HTTP status and Retry-After.
//   - SetStall: accept TCP, read the upgrade request, never answer.
//   - Stop and Start: the listener goes away (dials are refused, connections
//     dropped) and comes back on the same address; sessions survive unless
//     ForgetSessions is called, as a restart without state would.
//   - SetPush: change the push interval.
//   - Options.MaxConnections: refuse upgrades beyond a limit with 503.
//
// # Limits
//
// The server bounds what it holds, so that it is not the weak link of a
// chain under a flood: a connection that is not upgraded must send its
// request headers within Options.HandshakeTimeout (10s) and is closed after
// that long idle between requests; and beyond Options.MaxTCPConns TCP
// connections (a quarter of the process's descriptor limit: 5,000 of
// 20,000) a new one is answered with a minimal 503 and closed (event shed).
// Both bounds are above what the wire tap in front of it lets through.
//
// # Events
//
// Everything the server does or sees is an Event handed to Options.OnEvent,
// serialised, stamped with time.Now. Its Kind is one of the result
// package's kinds with source server (result.Vocabulary lists them with
// their meaning; docs/events.md in the repository renders the list):
// listen and listener-stop, accept, reject (Status), stall, shed (Status,
// Reason: a TCP connection over MaxTCPConns), hello, welcome
// (Seq = from_seq, Resumed, Count = gap), session-new, session-expired,
// sessions-forgotten, recv, dup, send, plain, push, ack-recv, echo, raw, bad-frame
// (Code = the close code sent), ping-recv, pong-withheld, close-sent (Code,
// Reason), drop (abrupt TCP close) and server-closed (Code = the peer's
// close code, 1006 if none). Text is for people and is never needed to
// read a figure.
//
// Conn numbers TCP connections from 1 in accept order, so all events of one
// connection share it.
//
// # Goroutines
//
// The server runs one push goroutine, one serving goroutine while listening,
// and two goroutines per WebSocket connection (reader and writer) that exit
// when the connection ends; a connection shed over MaxTCPConns has one
// goroutine that exits within 250ms. Close waits for all of them.
package fakeserver
