package chaosnet

import (
	"context"
	"errors"
	"fmt"
	"github.com/wschaos/wschaos/result"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/internal/leaktest"
)

func TestMain(m *testing.M) {
	if floodChild() {
		return // the test binary ran as TestFloodChainSurvives's flood
	}
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

// ioTimeout bounds every socket wait in these tests; nothing should come close.
const ioTimeout = 5 * time.Second

// apiCtx is the context for one Toxiproxy call.
func apiCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), ioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newEmbedded starts an embedded Toxiproxy without the accept-loop
// watchdog, whose probe connections would reach the tests' upstreams; the
// watchdog's own tests and the flood test turn it on.
func newEmbedded(t *testing.T) *Toxiproxy {
	t.Helper()
	return newEmbeddedWith(t, ToxiproxyOptions{Watch: WatchOptions{Interval: -1}})
}

func newEmbeddedWith(t *testing.T, opts ToxiproxyOptions) *Toxiproxy {
	t.Helper()
	tp, err := StartToxiproxyWith(apiCtx(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("close toxiproxy: %v", err)
		}
	})
	return tp
}

var proxySeq atomic.Uint64

func newProxy(t *testing.T, tp *Toxiproxy, upstream string) *Proxy {
	t.Helper()
	name := fmt.Sprintf("%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), proxySeq.Add(1))
	p, err := tp.NewProxy(apiCtx(t), name, upstream)
	require.NoError(t, err)
	return p
}

// echoServer echoes every connection, answers EOF with a half-close and
// reports how each connection's read ended on errs.
type echoServer struct {
	ln   net.Listener
	errs chan error
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &echoServer{ln: ln, errs: make(chan error, 100), conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go s.echo(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *echoServer) Addr() string { return s.ln.Addr().String() }

func (s *echoServer) echo(c net.Conn) {
	defer s.wg.Done()
	_, err := io.Copy(c, c)
	if err == nil {
		c.(*net.TCPConn).CloseWrite()
		err = io.EOF
	}
	select {
	case s.errs <- err:
	default:
	}
	// Wait for the peer's close before closing, so that the close is a FIN.
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	io.Copy(io.Discard, c)
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	var d net.Dialer
	c, err := d.DialContext(apiCtx(t), "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads the same number of bytes back.
func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

// readErr reads until an error and returns it.
func readErr(c net.Conn) error {
	buf := make([]byte, 1024)
	for {
		if _, err := c.Read(buf); err != nil {
			return err
		}
	}
}

// tapEvents collects a Tap's events.
type tapEvents struct {
	ch chan TapEvent
}

func newTapEvents() *tapEvents { return &tapEvents{ch: make(chan TapEvent, 1000)} }

func (e *tapEvents) on(ev TapEvent) {
	select {
	case e.ch <- ev:
	default:
		panic("tap event buffer full")
	}
}

// until returns the events up to and including the first of kind, failing
// the test if it does not come.
func (e *tapEvents) until(t *testing.T, kind result.Kind) []TapEvent {
	t.Helper()
	var got []TapEvent
	timer := time.NewTimer(ioTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-e.ch:
			got = append(got, ev)
			if ev.Kind == kind {
				return got
			}
		case <-timer.C:
			t.Fatalf("no %q event within %v; got %+v", kind, ioTimeout, got)
		}
	}
}

func kinds(evs []TapEvent) []result.Kind {
	var ks []result.Kind
	for _, ev := range evs {
		ks = append(ks, ev.Kind)
	}
	return ks
}

func newTap(t *testing.T, upstream string) (*Tap, *tapEvents) {
	t.Helper()
	evs := newTapEvents()
	tap, err := NewTap(upstream, evs.on)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := tap.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("close tap: %v", err)
		}
	})
	return tap, evs
}
