package segment

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ioTimeout bounds every wait of these tests that should end by itself;
// nothing comes close unless the segment is broken.
const ioTimeout = 20 * time.Second

func timeoutCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// server is a kernel loopback TCP server that runs serve for every
// connection; Cleanup closes it and waits for its goroutines.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newServer(tb testing.TB, serve func(net.Conn)) *server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	s := &server{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				serve(c)
				_ = c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			})
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) Addr() string { return s.ln.Addr().String() }

// echo copies a connection back to itself and answers EOF with a
// half-close.
func echo(c net.Conn) {
	if _, err := io.Copy(c, c); err == nil {
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
}

// sink counts what it reads into n.
func sink(n *atomic.Int64) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			k, err := c.Read(buf)
			n.Add(int64(k))
			if err != nil {
				return
			}
		}
	}
}

func newSegment(tb testing.TB, upstream string, opts Options) *Segment {
	tb.Helper()
	s, err := New(upstream, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// dialSegment opens a connection through the segment, deadline set.
func dialSegment(tb testing.TB, s *Segment) net.Conn {
	tb.Helper()
	c, err := s.Dial(timeoutCtx(tb), "tcp", "ignored:1")
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	require.NoError(tb, c.SetDeadline(time.Now().Add(ioTimeout)))
	return c
}

// roundTrip writes msg and reads as many bytes back, which must be msg.
func roundTrip(tb testing.TB, c net.Conn, msg []byte) {
	tb.Helper()
	_, err := c.Write(msg)
	require.NoError(tb, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(tb, err)
	require.True(tb, bytes.Equal(msg, got), "echo differs from what was sent")
}

// payload returns n bytes that differ from one test to the next only by
// seed: a corrupted or misordered byte cannot pass for the right one.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// echoTransfer writes data on c while reading the echo back, and checks
// it arrived intact and in order.
func echoTransfer(tb testing.TB, c net.Conn, data []byte) {
	tb.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	got := make([]byte, len(data))
	_, rerr := io.ReadFull(c, got)
	require.NoError(tb, <-werr)
	require.NoError(tb, rerr)
	require.True(tb, bytes.Equal(data, got), "echo of %d bytes differs from what was sent", len(data))
}

// echoThrough sends n bytes of payload(n, seed) to an echo server through
// a new segment with the same faults both ways, checks the echo, and
// returns the segment.
func echoThrough(t *testing.T, f Faults, seed uint64, n int) *Segment {
	t.Helper()
	up := newServer(t, echo)
	s := newSegment(t, up.Addr(), Options{Seed: seed, Up: f, Down: f})
	echoTransfer(t, dialSegment(t, s), payload(n, seed))
	st := s.Stats()
	t.Logf("up %+v\ndown %+v", st.Up, st.Down)
	return s
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, ioTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}
