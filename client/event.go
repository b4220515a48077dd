package client

import (
	"strconv"
	"time"
)

// State is where a Client is in its life.
type State int

const (
	// StateIdle: New returned, Run not called yet.
	StateIdle State = iota
	// StateConnecting: dialing, upgrading, or waiting for the welcome.
	StateConnecting
	// StateReady: the welcome arrived; messages flow.
	StateReady
	// StateBackoff: the last attempt ended; waiting before the next dial.
	StateBackoff
	// StateStopped: Run returned.
	StateStopped
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateReady:
		return "ready"
	case StateBackoff:
		return "backoff"
	case StateStopped:
		return "stopped"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// EventKind names an event.
type EventKind string

// The events a Client reports through Options.OnEvent and its logger.
const (
	EventDialing      EventKind = "dialing"      // a dial attempt starts
	EventConnected    EventKind = "connected"    // the WebSocket upgrade completed
	EventReady        EventKind = "ready"        // the welcome arrived: one application round trip done
	EventDisconnected EventKind = "disconnected" // an attempt or a connection ended; Cause says why
	EventBackoff      EventKind = "backoff"      // waiting NextDelay before the next dial
	EventGap          EventKind = "gap"          // server messages were lost for good
	EventFatal        EventKind = "fatal"        // a fatal close or status: Run returns a *FatalError
	EventStopped      EventKind = "stopped"      // Run is returning
	EventPing         EventKind = "ping"         // a ping was sent after PingInterval of silence
	EventPong         EventKind = "pong"         // a pong arrived
)

// Causes reported in Event.Cause.
const (
	causeHeartbeat        = "heartbeat"         // PingInterval+PongTimeout of inbound silence
	causeAckTimeout       = "ack-timeout"       // a sent msg unacknowledged for AckTimeout
	causeReadError        = "read-error"        // the transport failed without a close frame
	causeCloseFrame       = "close-frame"       // the peer sent a close frame
	causeWriteError       = "write-error"       // a write failed
	causeDialError        = "dial-error"        // the TCP or TLS dial, or the upgrade, failed
	causeHandshakeTimeout = "handshake-timeout" // no welcome within HandshakeTimeout
	causeHTTPStatus       = "http-status"       // the upgrade was refused with an HTTP status
	causeProtocolError    = "protocol-error"    // the server broke the protocol
	causeStopped          = "stopped"           // Run's context ended
)

// Event is one state change or observation, reported to Options.OnEvent.
// Which fields are set depends on Kind.
type Event struct {
	Time  time.Time
	Kind  EventKind
	State State // the state the client is in after the event
	// Conn numbers dial attempts from 1.
	Conn uint64
	// Attempt counts consecutive failed attempts: 0 on the first connect and
	// after a healthy connection, 1 for the first retry.
	Attempt int
	// Cause, on disconnected and fatal: "heartbeat", "ack-timeout",
	// "read-error", "close-frame", "write-error", "dial-error",
	// "handshake-timeout", "http-status", "protocol-error" or "stopped".
	Cause string
	// Code is the peer's close code for "close-frame", 1006 for "read-error"
	// and "write-error" (the transport died without a close frame), the HTTP
	// status for "http-status", and 0 when the client itself ended the
	// connection (detectors, protocol error, stop).
	Code int
	// Reason is the close reason or the error text.
	Reason string
	// Class is the taxonomy class of a disconnect.
	Class Class
	// NextDelay, on backoff, is the delay chosen.
	NextDelay time.Duration
	// Hint, on backoff, is the server hint honoured (after clamping), if any.
	Hint time.Duration
	// Downtime, on ready after a loss, is the time since the previous
	// connection was lost.
	Downtime time.Duration
	// Resumed, on ready, says the server resumed the session.
	Resumed bool
	// Gap, on gap, is how many server messages were lost; 0 with Detail
	// "session lost" when the server forgot the session and the count is
	// unknown.
	Gap uint64
	// Detail is free text.
	Detail string
}

// Message is one inbound application message.
type Message struct {
	Seq  uint64
	Body string
}
