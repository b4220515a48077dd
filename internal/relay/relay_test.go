package relay

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/echotest"
	"github.com/wschaos/wschaos/internal/leaktest"
	"github.com/wschaos/wschaos/internal/memnet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

// faulty is what the stress run does to a proxy, on the relay or on
// Toxiproxy, so that one test holds both to the same behaviour.
type faulty interface {
	addr() string
	disable(context.Context) error
	enable(context.Context) error
	hole(context.Context, bool) error
	latency(context.Context, time.Duration) error
}

type onRelay struct{ r *Relay }

func (f onRelay) addr() string                                       { return f.r.Addr() }
func (f onRelay) disable(ctx context.Context) error                  { return f.r.Disable(ctx) }
func (f onRelay) enable(ctx context.Context) error                   { return f.r.Enable(ctx) }
func (f onRelay) hole(ctx context.Context, on bool) error            { return f.r.SetBlackHole(ctx, on) }
func (f onRelay) latency(ctx context.Context, d time.Duration) error { return f.r.SetLatency(ctx, d) }

type onToxiproxy struct{ p *chaosnet.Proxy }

func (f onToxiproxy) addr() string                      { return f.p.Addr() }
func (f onToxiproxy) disable(ctx context.Context) error { return f.p.Disable(ctx) }
func (f onToxiproxy) enable(ctx context.Context) error  { return f.p.Enable(ctx) }

func (f onToxiproxy) both(ctx context.Context, on bool, typ string, attrs map[string]int) error {
	for _, s := range []string{"upstream", "downstream"} {
		var err error
		if on {
			err = f.p.AddToxic(ctx, chaosnet.Toxic{Type: typ, Stream: s, Attributes: attrs})
		} else {
			err = f.p.RemoveToxic(ctx, typ+"_"+s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (f onToxiproxy) hole(ctx context.Context, on bool) error {
	return f.both(ctx, on, "timeout", map[string]int{"timeout": 0})
}

func (f onToxiproxy) latency(ctx context.Context, d time.Duration) error {
	return f.both(ctx, d > 0, "latency", map[string]int{"latency": int(d / time.Millisecond)})
}

// both runs test against the relay, over TCP and in memory to its
// upstream, and against an embedded Toxiproxy proxy.
func both(t *testing.T, test func(t *testing.T, f faulty)) {
	t.Run("relay", func(t *testing.T) {
		r, err := New("127.0.0.1:0", echotest.TCP(t))
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		test(t, onRelay{r})
	})
	t.Run("relay-memnet", func(t *testing.T) {
		r, err := NewDial("127.0.0.1:0", "echo", memEcho(t).Dial)
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		test(t, onRelay{r})
	})
	t.Run("toxiproxy", func(t *testing.T) {
		up := echotest.TCP(t)
		tp, err := chaosnet.StartToxiproxy(t.Context(), "")
		require.NoError(t, err)
		t.Cleanup(func() { _ = tp.Close() })
		p, err := tp.NewProxy(t.Context(), "relay-test", up)
		require.NoError(t, err)
		test(t, onToxiproxy{p})
	})
}

// memEcho is an echo server on an in-process network.
func memEcho(t *testing.T) *memnet.Network {
	n := memnet.New("echo")
	ln, err := n.Listen()
	require.NoError(t, err)
	echotest.Serve(t, ln)
	return n
}

func dial(t *testing.T, addr string) net.Conn {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads the echo within d; it returns how long it
// took, or an error (a timeout: nothing came back).
func roundTrip(c net.Conn, msg string, d time.Duration) (time.Duration, error) {
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return 0, err
	}
	if string(got) != msg {
		return 0, errors.New("echo " + string(got) + ", want " + msg)
	}
	return time.Since(start), nil
}

// closedWithin reports whether the peer closed c within d (EOF or reset).
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 64))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestRelayLikeToxiproxy(t *testing.T) {
	t.Run("passes", func(t *testing.T) {
		both(t, func(t *testing.T, f faulty) {
			c := dial(t, f.addr())
			for _, m := range []string{"a", "hello", string(make([]byte, 3*BufSize))} {
				_, err := roundTrip(c, m, 2*time.Second)
				require.NoError(t, err)
			}
		})
	})
	t.Run("disable closes and refuses, enable lets in", func(t *testing.T) {
		both(t, func(t *testing.T, f faulty) {
			c := dial(t, f.addr())
			_, err := roundTrip(c, "x", 2*time.Second)
			require.NoError(t, err)
			require.NoError(t, f.disable(t.Context()))
			assert.True(t, closedWithin(c, 2*time.Second), "a connection through a disabled proxy is closed")
			_, err = net.DialTimeout("tcp", f.addr(), 2*time.Second)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED, "dials to a disabled proxy are refused")
			require.NoError(t, f.enable(t.Context()))
			_, err = roundTrip(dial(t, f.addr()), "y", 2*time.Second)
			assert.NoError(t, err)
		})
	})
	t.Run("black hole swallows and holds, lifting it closes", func(t *testing.T) {
		both(t, func(t *testing.T, f faulty) {
			c := dial(t, f.addr())
			_, err := roundTrip(c, "x", 2*time.Second)
			require.NoError(t, err)
			require.NoError(t, f.hole(t.Context(), true))
			_, err = roundTrip(c, "lost", 300*time.Millisecond)
			var ne net.Error
			require.ErrorAs(t, err, &ne, "nothing comes back through a black hole")
			assert.True(t, ne.Timeout())
			late := dial(t, f.addr()) // accepted, and held as well
			_, err = roundTrip(late, "lost too", 300*time.Millisecond)
			assert.Error(t, err)
			require.NoError(t, f.hole(t.Context(), false))
			assert.True(t, closedWithin(c, 2*time.Second), "lifting the hole closes what it held")
			assert.True(t, closedWithin(late, 2*time.Second), "lifting the hole closes what it held")
			_, err = roundTrip(dial(t, f.addr()), "back", 2*time.Second)
			assert.NoError(t, err)
		})
	})
	t.Run("latency delays each way, in order", func(t *testing.T) {
		both(t, func(t *testing.T, f faulty) {
			c := dial(t, f.addr())
			const d = 150 * time.Millisecond
			require.NoError(t, f.latency(t.Context(), d))
			took, err := roundTrip(c, "slow", 3*time.Second)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, took, 2*d, "a round trip gains the delay twice")
			assert.Less(t, took, 2*d+time.Second)
			// Chunks written back to back arrive in order, each delayed
			// from its own arrival, not one after another's delay.
			start := time.Now()
			for _, m := range []string{"1", "2", "3"} {
				_, err := c.Write([]byte(m))
				require.NoError(t, err)
				time.Sleep(20 * time.Millisecond)
			}
			got := make([]byte, 3)
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			assert.Equal(t, "123", string(got))
			assert.Less(t, time.Since(start), 2*d+time.Second)
			require.NoError(t, f.latency(t.Context(), 0))
			took, err = roundTrip(c, "fast", 2*time.Second)
			require.NoError(t, err)
			assert.Less(t, took, d, "without latency the round trip is loopback's again")
		})
	})
}

// TestBlackHolePassesAnUpstreamClose: a black hole swallows bytes, not the
// end of a stream: on the relay over either hop as on Toxiproxy v2.12.0
// (whose timeout toxic closes its output when its input ends), an upstream
// that closes its connection during the hole closes the client's. (So a
// fake server that times out a handshake it never received is heard of.)
func TestBlackHolePassesAnUpstreamClose(t *testing.T) {
	// closing accepts every connection and closes it at once; the hole is
	// on before the client dials, so the close comes during it.
	closing := func(t *testing.T, ln net.Listener) {
		var wg sync.WaitGroup
		t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		})
	}
	check := func(t *testing.T, f faulty) {
		require.NoError(t, f.hole(t.Context(), true))
		c := dial(t, f.addr())
		assert.True(t, closedWithin(c, 2*time.Second), "the upstream's close passes the black hole")
		require.NoError(t, f.hole(t.Context(), false))
	}
	t.Run("relay", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closing(t, ln)
		r, err := New("127.0.0.1:0", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		check(t, onRelay{r})
	})
	t.Run("relay-memnet", func(t *testing.T) {
		n := memnet.New("closing")
		ln, err := n.Listen()
		require.NoError(t, err)
		closing(t, ln)
		r, err := NewDial("127.0.0.1:0", "closing", n.Dial)
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		check(t, onRelay{r})
	})
	t.Run("toxiproxy", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closing(t, ln)
		tp, err := chaosnet.StartToxiproxy(t.Context(), "")
		require.NoError(t, err)
		t.Cleanup(func() { _ = tp.Close() })
		p, err := tp.NewProxy(t.Context(), "relay-hole-close-test", ln.Addr().String())
		require.NoError(t, err)
		check(t, onToxiproxy{p})
	})
}

func TestRelayClose(t *testing.T) {
	r, err := New("127.0.0.1:0", echotest.TCP(t))
	require.NoError(t, err)
	c := dial(t, r.Addr())
	_, err = roundTrip(c, "x", 2*time.Second)
	require.NoError(t, err)
	require.NoError(t, r.SetLatency(t.Context(), time.Hour))
	_, err = c.Write([]byte("held for an hour"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Conns() == 1 }, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Close()) // returns with the delayed chunk's writer gone
	assert.True(t, closedWithin(c, 2*time.Second))
	assert.ErrorIs(t, r.Enable(t.Context()), ErrClosed)
	assert.ErrorIs(t, r.SetBlackHole(t.Context(), true), ErrClosed)
	assert.Error(t, r.SetLatency(t.Context(), -time.Second))
	_, err = New("127.0.0.1:0", "")
	assert.Error(t, err)
}

// TestRelayMemnetUpstream: over an in-process upstream the relay closes
// the client when nothing listens there, as with a refused TCP dial, and a
// dial the upstream leaves waiting ends with Close.
func TestRelayMemnetUpstream(t *testing.T) {
	n := memnet.New("gone")
	dialing := make(chan struct{}, 4)
	r, err := NewDial("127.0.0.1:0", "gone", func(ctx context.Context) (net.Conn, error) {
		dialing <- struct{}{}
		return n.Dial(ctx)
	})
	require.NoError(t, err)
	c := dial(t, r.Addr())
	assert.True(t, closedWithin(c, 2*time.Second), "with nothing listening the accepted client gets a FIN")
	<-dialing

	ln, err := n.Listen() // listens, and never accepts
	require.NoError(t, err)
	defer ln.Close()
	for range memnet.Backlog {
		c, err := n.Dial(t.Context())
		require.NoError(t, err)
		defer c.Close()
	}
	dial(t, r.Addr())
	<-dialing // the relay's upstream dial waits on the full backlog
	closed := make(chan struct{})
	go func() { _ = r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(dialTimeout / 2):
		t.Fatal("Close waited on an upstream dial")
	}
	_, err = NewDial("127.0.0.1:0", "x", nil)
	assert.Error(t, err)
}

func TestRelayUpstreamGone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := ln.Addr().String()
	require.NoError(t, ln.Close())
	r, err := New("127.0.0.1:0", gone)
	require.NoError(t, err)
	defer r.Close()
	c := dial(t, r.Addr())
	assert.True(t, closedWithin(c, 2*time.Second), "with no upstream the accepted client gets a FIN, as from Toxiproxy")
	assert.Equal(t, 0, r.Conns())
}
