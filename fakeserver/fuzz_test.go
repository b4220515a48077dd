package fakeserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/protocol"
)

// fuzzCloseCodes are the close codes the server may answer hostile input
// with (see the package documentation, Hostile input).
var fuzzCloseCodes = map[websocket.StatusCode]bool{
	websocket.StatusPolicyViolation:         true, // 1008
	websocket.StatusInvalidFramePayloadData: true, // 1007
	websocket.StatusUnsupportedData:         true, // 1003
	websocket.StatusMessageTooBig:           true, // 1009
}

// fuzzStepTimeout bounds each input: a hang is a failure, not a slow run.
const fuzzStepTimeout = 5 * time.Second

// FuzzServerFrames sends one arbitrary client message (text or binary,
// envelope or garbage, huge or not UTF-8) to a live server over loopback,
// then an echo envelope as a marker. The server must answer both or close
// with a code from the documented set, within fuzzStepTimeout; every text
// frame it sends must be UTF-8; and a second, well-behaved client must
// still get its echo. A panic anywhere in the server fails the run.
//
// The message is data repeated 1+repeat%2049 times, capped at twice
// protocol.MaxFrameSize, so the fuzzer reaches the size limit cheaply. The
// seeds, in testdata/fuzz/FuzzServerFrames, run with every go test.
func FuzzServerFrames(f *testing.F) {
	s, err := New(Options{ResumeWindow: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	good, _, err := websocket.Dial(ctx, s.URL(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = good.CloseNow() })
	var ids atomic.Uint64

	f.Fuzz(func(t *testing.T, binary bool, repeat uint32, data []byte) {
		msg := bytes.Repeat(data, 1+int(repeat%2049))
		if len(msg) > 2*protocol.MaxFrameSize {
			msg = msg[:2*protocol.MaxFrameSize]
		}
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		}
		sctx, cancel := context.WithTimeout(ctx, fuzzStepTimeout)
		defer cancel()
		fuzzOne(t, sctx, s, typ, msg, 1<<40+ids.Add(1))
		echoRoundTrip(t, sctx, good, ids.Add(1))
	})
}

// fuzzOne sends msg and a marker echo on a connection of its own and reads
// until the marker comes back or the server closes.
func fuzzOne(t *testing.T, ctx context.Context, s *Server, typ websocket.MessageType, msg []byte, marker uint64) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, s.URL(), &websocket.DialOptions{HTTPClient: abortingClient})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	c.SetReadLimit(4 * protocol.MaxFrameSize)
	// Writes may fail once the server has closed; the read tells why.
	if err := c.Write(ctx, typ, msg); err == nil {
		m, _ := protocol.Encode(protocol.Envelope{Type: protocol.TypeEcho, ID: marker})
		_ = c.Write(ctx, websocket.MessageText, m)
	}
	for {
		rtyp, b, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("no answer and no close within %v (%d-byte %v message)", fuzzStepTimeout, len(msg), typ)
			}
			code := websocket.CloseStatus(err)
			if !fuzzCloseCodes[code] {
				t.Fatalf("closed with %v (%v), want one of 1003, 1007, 1008, 1009", code, err)
			}
			return
		}
		if rtyp != websocket.MessageText || !utf8.Valid(b) {
			t.Fatalf("server sent a %v frame of %d bytes that is not UTF-8 text", rtyp, len(b))
		}
		if env, err := protocol.Decode(b); err == nil && env.Type == protocol.TypeEcho && env.ID == marker {
			return
		}
	}
}

// abortingClient dials connections that end with a reset (SO_LINGER 0):
// closing first would leave each one in TIME_WAIT, and tens of thousands of
// inputs a minute would use up the loopback ports, slowing every connect
// to a crawl.
var abortingClient = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetLinger(0)
		}
		return c, err
	},
}}

// echoRoundTrip checks that c, a client that behaves, still gets its echo.
func echoRoundTrip(t *testing.T, ctx context.Context, c *websocket.Conn, id uint64) {
	t.Helper()
	m, _ := protocol.Encode(protocol.Envelope{Type: protocol.TypeEcho, ID: id, Body: "good"})
	if err := c.Write(ctx, websocket.MessageText, m); err != nil {
		t.Fatalf("well-behaved client: write: %v", err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("well-behaved client: read: %v", err)
	}
	env, err := protocol.Decode(b)
	if err != nil || env.ID != id {
		t.Fatalf("well-behaved client: got %q, want echo id %s", b, strconv.FormatUint(id, 10))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("well-behaved client: round trip took over %v", fuzzStepTimeout)
	}
}
