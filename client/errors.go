package client

import (
	"errors"
	"fmt"
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
	// Cause is the event cause: "close-frame" or "http-status".
	Cause string
	// Code is the WebSocket close code, or the HTTP status for "http-status".
	Code int
	// Reason is the close reason or the HTTP status text.
	Reason string
}

func (e *FatalError) Error() string {
	what := "close"
	if e.Cause == causeHTTPStatus {
		what = "http status"
	}
	if e.Reason == "" {
		return fmt.Sprintf("client: fatal %s %d: not retrying", what, e.Code)
	}
	return fmt.Sprintf("client: fatal %s %d (%s): not retrying", what, e.Code, e.Reason)
}
