package fakeserver

import (
	"context"
	"crypto/tls"
	"github.com/wschaos/wschaos/result"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// events collects a server's events so tests can wait for one.
type events struct {
	mu     sync.Mutex
	all    []Event
	notify chan struct{} // closed and replaced on every event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	close(e.notify)
	e.notify = make(chan struct{})
	e.mu.Unlock()
}

// waitFor returns the first event at or after index from that matches, and
// the index after it.
func (e *events) waitFor(t *testing.T, from int, match func(Event) bool) (Event, int) {
	t.Helper()
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		e.mu.Lock()
		for i := from; i < len(e.all); i++ {
			if match(e.all[i]) {
				ev := e.all[i]
				e.mu.Unlock()
				return ev, i + 1
			}
		}
		from = len(e.all)
		ch := e.notify
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timeout.C:
			t.Fatalf("no matching event within %v; got %v", testTimeout, e.snapshot())
		}
	}
}

func (e *events) waitKind(t *testing.T, kind result.Kind) Event {
	t.Helper()
	ev, _ := e.waitFor(t, 0, func(ev Event) bool { return ev.Kind == kind })
	return ev
}

func (e *events) count(kind result.Kind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// list returns the events so far.
func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.all...)
}

func (e *events) snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	kinds := make([]string, len(e.all))
	for i, ev := range e.all {
		kinds[i] = string(ev.Kind)
	}
	return kinds
}

// newServer starts a server that records its events and closes it when the
// test ends.
func newServer(t *testing.T, opts Options) (*Server, *events) {
	t.Helper()
	ev := &events{notify: make(chan struct{})}
	opts.OnEvent = ev.add
	s, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, ev
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// dial connects to s and closes the connection when the test ends.
func dial(t *testing.T, ctx context.Context, s *Server) *websocket.Conn {
	t.Helper()
	var opts *websocket.DialOptions
	if pool := s.CertPool(); pool != nil {
		opts = &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}}}
	}
	c, resp, err := websocket.Dial(ctx, s.URL(), opts)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	c.SetReadLimit(4 * protocol.MaxFrameSize)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func send(t *testing.T, ctx context.Context, c *websocket.Conn, e protocol.Envelope) {
	t.Helper()
	b, err := protocol.Encode(e)
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, b))
}

func recv(t *testing.T, ctx context.Context, c *websocket.Conn) protocol.Envelope {
	t.Helper()
	typ, b, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	e, err := protocol.Decode(b)
	require.NoError(t, err, "decode %q", b)
	return e
}

// recvType reads until a message of type typ, skipping pushed msgs.
func recvType(t *testing.T, ctx context.Context, c *websocket.Conn, typ protocol.Type) protocol.Envelope {
	t.Helper()
	for {
		if e := recv(t, ctx, c); e.Type == typ {
			return e
		}
	}
}

// hello sends hello and returns the welcome.
func hello(t *testing.T, ctx context.Context, c *websocket.Conn, client, session string, lastSeq uint64) protocol.Envelope {
	t.Helper()
	send(t, ctx, c, protocol.Envelope{Type: protocol.TypeHello, ClientID: client, Session: session, LastSeq: lastSeq})
	w := recv(t, ctx, c)
	require.Equal(t, protocol.TypeWelcome, w.Type, "got %+v, want a welcome", w)
	return w
}

// push makes every session produce n messages now, as n push ticks would.
func push(s *Server, n int) {
	for range n {
		s.pushAll()
	}
}

// closeClient closes c normally and waits for the server to see it end.
func closeClient(t *testing.T, c *websocket.Conn, ev *events, from int) int {
	t.Helper()
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
	_, next := ev.waitFor(t, from, func(e Event) bool { return e.Kind == result.KindServerClosed })
	return next
}
