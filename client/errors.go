package client

import (
	"errors"
	"fmt"

	"github.com/wschaos/wschaos/result"
)

// ErrOutboxFull is returned, wrapped with the limit that was hit, by Send
// when the outbox cannot take another message. Backpressure is reported, never
// a silent drop: the caller decides whether to wait, drop or give up.
var ErrOutboxFull = errors.New("client: outbox full")

// ErrStopped is returned by Send after Run has returned.
var ErrStopped = errors.New("client: stopped")

// errRunTwice is returned by a second call of Run.
var errRunTwice = errors.New("client: Run called twice; a Client runs once, make a new one with New")

// FatalError is returned by Run when the server ended the session in a way
// that retrying cannot fix (see the taxonomy in the package documentation).
type FatalError struct {
	// Cause is CauseCloseFrame or CauseHTTPStatus.
	Cause Cause
	// Code is the WebSocket close code, for CauseCloseFrame.
	Code result.CloseCode
	// Status is the HTTP status, for CauseHTTPStatus.
	Status int
	// Reason is the close reason or the HTTP status text.
	Reason string
	// Undelivered lists, in order, the messages Send accepted that the
	// server never acknowledged: the client gives up on them, and the
	// application decides what to do with them. The same list is reported
	// as an EventUndelivered before Run returns.
	Undelivered []Message
}

func (e *FatalError) Error() string {
	what := fmt.Sprintf("close %d", int(e.Code))
	if e.Cause == CauseHTTPStatus {
		what = fmt.Sprintf("http status %d", e.Status)
	}
	if e.Reason != "" {
		what += " (" + e.Reason + ")"
	}
	msg := "client: fatal " + what + ": not retrying"
	if n := len(e.Undelivered); n > 0 {
		msg += fmt.Sprintf("; %d accepted messages undelivered (seq %d..%d)", n, e.Undelivered[0].Seq, e.Undelivered[n-1].Seq)
	}
	return msg
}
