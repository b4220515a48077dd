package client

import (
	"strconv"
	"time"

	"github.com/wschaos/wschaos/result"
)

// State is where a Client is in its life.
type State int

const (
	// StateIdle: New returned, Run not called yet.
	StateIdle State = iota
	// StateConnecting: dialing, upgrading, or (session mode) waiting for
	// the welcome.
	StateConnecting
	// StateReady: the connection is usable and messages flow: upgraded in
	// plain mode, welcomed in session mode.
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

// EventKind names an event. The kinds are those of the result package's
// vocabulary with source client, so the harness records the client's events
// as they are.
type EventKind = result.Kind

// The events a Client reports through Options.OnEvent and its logger.
const (
	EventDialing      = result.KindDialing      // a dial attempt starts
	EventConnected    = result.KindConnected    // the WebSocket upgrade completed
	EventReady        = result.KindReady        // ready: the upgrade in plain mode, the welcome in session mode
	EventDisconnected = result.KindDisconnected // an attempt or a connection ended; Cause says why
	EventBackoff      = result.KindBackoff      // waiting NextDelay before the next dial
	EventGap          = result.KindGap          // server messages were lost for good
	EventUndelivered  = result.KindUndelivered  // accepted messages given up on: Undelivered lists them
	EventFatal        = result.KindFatal        // a fatal close or status: Run returns a *FatalError
	EventStopped      = result.KindStopped      // Run is returning
	EventPing         = result.KindPing         // a ping was sent after PingInterval of silence
	EventPong         = result.KindPong         // a pong arrived
)

// Cause says why a connection ended (Event.Cause, FatalError.Cause).
type Cause = result.Cause

// Causes the client reports.
const (
	CauseHeartbeat        = result.CauseHeartbeat        // PingInterval+PongTimeout of inbound silence
	CauseAckTimeout       = result.CauseAckTimeout       // a sent msg unacknowledged for AckTimeout
	CauseReadError        = result.CauseReadError        // the transport failed without a close frame
	CauseCloseFrame       = result.CauseCloseFrame       // the peer sent a close frame
	CauseWriteError       = result.CauseWriteError       // a write failed
	CauseDialError        = result.CauseDialError        // the TCP or TLS dial, or the upgrade, failed
	CauseHandshakeTimeout = result.CauseHandshakeTimeout // no upgrade (or welcome) within HandshakeTimeout
	CauseHTTPStatus       = result.CauseHTTPStatus       // the upgrade was refused with an HTTP status
	CauseProtocolError    = result.CauseProtocolError    // the server broke the protocol
	CauseStopped          = result.CauseStopped          // Run's context ended
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
	// Cause, on disconnected, backoff and fatal, says why the connection
	// ended.
	Cause Cause
	// Code is the peer's close code for CauseCloseFrame, 1006 for
	// CauseReadError and CauseWriteError (the transport died without a
	// close frame), and 0 otherwise.
	Code result.CloseCode
	// Status is the HTTP status that refused the upgrade, for
	// CauseHTTPStatus.
	Status int
	// Reason is the close reason, the HTTP status text or the error text.
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
	// Resumed, on ready, says the server resumed the session (session mode).
	Resumed bool
	// Gap, on gap, is how many server messages were lost; 0 when the server
	// forgot the session and the count is unknown (SessionLost).
	Gap uint64
	// SessionLost, on gap, says the server no longer knew the session.
	SessionLost bool
	// Undelivered, on undelivered, lists the messages the client accepted
	// and gives up on.
	Undelivered []Message
}

// Message is one application message: inbound to OnMessage, or handed
// back in FatalError.Undelivered.
type Message struct {
	// Seq is the server's sequence number for an inbound message in session
	// mode, and 0 in plain mode, where messages carry none. For an
	// undelivered message it is the number Send returned.
	Seq  uint64
	Body string
	// Binary marks an inbound binary message in plain mode (Body holds its
	// bytes); always false in session mode, whose envelopes are text.
	Binary bool
}
