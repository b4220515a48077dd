// Package quirks holds the deliberate defects of the harness's mutant
// clients: bugs seen in real clients, injected into the reference client so
// the harness can prove its checks catch them. It is internal, so the
// defects are no part of the client's public API.
//
// The client package registers Attach when it is initialised; the mutants
// call it on the options they build:
//
//	o := scenarioProfile
//	quirks.Attach(&o, quirks.Set{NoHeartbeat: true})
package quirks

// Set is a set of defects. The zero value means none.
type Set struct {
	// NoHeartbeat: never ping and never declare a silent connection dead
	// (neither the heartbeat nor the ack-timeout detector runs); only read
	// and write errors end a connection.
	NoHeartbeat bool
	// ResetBackoffOnConnect: reset the attempt counter as soon as a
	// connection is ready, so a flapping server keeps the client hot.
	ResetBackoffOnConnect bool
	// RetryFatal: treat fatal closes and statuses as retryable.
	RetryFatal bool
	// IgnoreHints: ignore Retry-After and 1013/4429 hints.
	IgnoreHints bool
	// DropOutboxOnReconnect: discard unacknowledged messages when a
	// reconnect becomes ready.
	DropOutboxOnReconnect bool
	// NoResume: never send session and last_seq in hello, and do not
	// report the resulting gap.
	NoResume bool
	// DeliverDuplicates: deliver inbound duplicates instead of dropping
	// them.
	DeliverDuplicates bool
	// WaitForDeadPeer: teardown waits for the close handshake to finish
	// (coder/websocket's own 5 s per step) instead of CloseGrace.
	WaitForDeadPeer bool
	// LivenessOnOutbound: the heartbeat counts the client's own writes (its
	// messages and pings) as liveness instead of inbound frames, so a peer
	// that stopped answering looks alive for as long as the client talks.
	LivenessOnOutbound bool
	// GiveUpAfterRetry: stop for good after the first failed reconnect,
	// as if every error were fatal.
	GiveUpAfterRetry bool
	// IgnoreCloseHint: ignore the wait a 1013 or 4429 close asks for (but
	// honour Retry-After).
	IgnoreCloseHint bool
	// ResendReversed: after a reconnect, resend unacknowledged messages
	// newest first.
	ResendReversed bool
	// UnboundedOutbox: Send never refuses a message, however many are
	// queued: no backpressure, memory grows without bound.
	UnboundedOutbox bool
	// SilentFatal: on a fatal close, drop the unacknowledged messages
	// without telling the application.
	SilentFatal bool
	// UnboundedConnect: open the TCP connection with no deadline and start
	// the handshake timeout only once it is connected, so a connect whose
	// SYN or SYN-ACK is lost waits on TCP's own retransmissions.
	UnboundedConnect bool
}

// Attach sets the defects of the client options target points to (a
// *client.Options) and reports whether it could. The client package sets
// it at initialisation; it is nil in a program that does not link the
// client.
var Attach func(target any, s Set) bool
