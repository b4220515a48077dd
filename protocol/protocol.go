package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Type names the kind of an envelope.
type Type string

// The envelope types. See the package documentation for an example of each.
const (
	TypeHello   Type = "hello"
	TypeWelcome Type = "welcome"
	TypeMsg     Type = "msg"
	TypeAck     Type = "ack"
	TypeEcho    Type = "echo"
)

// Limits enforced by Decode and Encode.
const (
	// MaxFrameSize is the largest envelope, in bytes, that Decode accepts.
	MaxFrameSize = 1 << 20
	// MaxIDLen is the longest client id or session id accepted.
	MaxIDLen = 128
)

// ErrMalformed is wrapped by every error Decode and Encode return for input
// that is not a valid envelope.
var ErrMalformed = errors.New("protocol: malformed envelope")

// Envelope is one protocol message. Which fields are meaningful depends on
// Type; Validate states the rules.
type Envelope struct {
	Type Type `json:"type"`

	// ClientID names the client (hello, welcome).
	ClientID string `json:"client_id,omitempty"`
	// Session is the server's session id (welcome; hello when resuming).
	Session string `json:"session,omitempty"`
	// Seq is the sequence number of a msg, or the cumulative sequence an ack
	// acknowledges.
	Seq uint64 `json:"seq,omitempty"`
	// LastSeq, in hello, is the last server sequence the client received.
	LastSeq uint64 `json:"last_seq,omitempty"`
	// Ack, in welcome, is the last client sequence the server holds.
	Ack uint64 `json:"ack,omitempty"`
	// Resumed, in welcome, says the server resumed the named session.
	Resumed bool `json:"resumed,omitempty"`
	// FromSeq, in welcome, is the first server sequence the server will send
	// on this connection.
	FromSeq uint64 `json:"from_seq,omitempty"`
	// Gap, in welcome, is how many server messages the client missed and the
	// server can no longer deliver.
	Gap uint64 `json:"gap,omitempty"`
	// ID identifies an echo round trip.
	ID uint64 `json:"id,omitempty"`
	// Body is the application payload of a msg or echo.
	Body string `json:"body,omitempty"`
}

// Validate reports whether e is a well-formed envelope: a known type, the
// fields that type requires, and ids within MaxIDLen.
func (e *Envelope) Validate() error {
	if len(e.ClientID) > MaxIDLen {
		return fmt.Errorf("%w: client_id is %d bytes, at most %d allowed", ErrMalformed, len(e.ClientID), MaxIDLen)
	}
	if len(e.Session) > MaxIDLen {
		return fmt.Errorf("%w: session is %d bytes, at most %d allowed", ErrMalformed, len(e.Session), MaxIDLen)
	}
	switch e.Type {
	case TypeHello:
		if e.ClientID == "" {
			return fmt.Errorf("%w: hello needs a client_id", ErrMalformed)
		}
	case TypeWelcome:
		if e.Session == "" {
			return fmt.Errorf("%w: welcome needs a session", ErrMalformed)
		}
	case TypeMsg:
		if e.Seq == 0 {
			return fmt.Errorf("%w: msg needs a seq of 1 or more", ErrMalformed)
		}
	case TypeAck:
		if e.Seq == 0 {
			return fmt.Errorf("%w: ack needs a seq of 1 or more", ErrMalformed)
		}
	case TypeEcho:
	case "":
		return fmt.Errorf("%w: missing type", ErrMalformed)
	default:
		return fmt.Errorf("%w: unknown type %q (want hello, welcome, msg, ack or echo)", ErrMalformed, truncate(string(e.Type)))
	}
	return nil
}

// Decode parses and validates one envelope. Every error wraps ErrMalformed.
func Decode(data []byte) (Envelope, error) {
	var e Envelope
	if len(data) > MaxFrameSize {
		return e, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrMalformed, len(data), MaxFrameSize)
	}
	if !utf8.Valid(data) {
		return e, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return Envelope{}, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// Encode validates e and returns its wire form.
func Encode(e Envelope) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(b) > MaxFrameSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d allowed", ErrMalformed, len(b), MaxFrameSize)
	}
	return b, nil
}

// IsEnvelope reports whether data looks like a protocol envelope (a JSON
// object) rather than a raw payload. The fake server echoes raw payloads back
// unchanged, so clients that do not speak the protocol still get round trips.
func IsEnvelope(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}

func truncate(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
