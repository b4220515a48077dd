package segment

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

func TestRoundTrip(t *testing.T) {
	up := newServer(t, echo)
	s := newSegment(t, up.Addr(), Options{})
	c := dialSegment(t, s)
	roundTrip(t, c, []byte("hello through the segment"))
	echoTransfer(t, c, payload(256<<10, 1))

	st := s.Stats()
	t.Logf("up %+v\ndown %+v", st.Up, st.Down)
	for _, p := range []Packets{st.Up, st.Down} {
		assert.NotZero(t, p.Sent)
		// Retransmissions may happen with no fault: on a loaded machine an
		// ACK can come later than gvisor's tail-loss probe (2 x SRTT, a
		// fraction of a millisecond here) and the probe resends.
		p.Sent, p.Retransmitted = 0, 0
		assert.Zero(t, p, "no faults, no fault counted")
	}
	for _, st := range []*stack.Stack{s.client, s.server} {
		assert.Zero(t, st.Stats().NICs.TxPacketsDroppedNoBufferSpace.Value(), "the link kept up with the stacks")
	}
}

func TestEntryRelay(t *testing.T) {
	up := newServer(t, echo)
	s := newSegment(t, up.Addr(), Options{})
	var d net.Dialer
	c, err := d.DialContext(timeoutCtx(t), "tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	echoTransfer(t, c, payload(256<<10, 2))

	// A half-close passes through both relays and the echo server's answer
	// comes back as EOF.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	n, err := c.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF)
}

// wsEcho is a loopback WebSocket echo server.
func wsEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			typ, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if err := ws.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})}
	wg.Go(func() { _ = srv.Serve(ln) })
	t.Cleanup(func() {
		_ = srv.Close() // handlers end when their clients close
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestWebSocket(t *testing.T) {
	s := newSegment(t, wsEcho(t), Options{})
	msg := payload(10<<10, 3)
	check := func(t *testing.T, url string, client *http.Client) {
		ctx := timeoutCtx(t)
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
		require.NoError(t, err)
		defer ws.CloseNow()
		for range 10 {
			require.NoError(t, ws.Write(ctx, websocket.MessageBinary, msg))
			typ, got, err := ws.Read(ctx)
			require.NoError(t, err)
			assert.Equal(t, websocket.MessageBinary, typ)
			require.Equal(t, msg, got)
		}
		require.NoError(t, ws.Close(websocket.StatusNormalClosure, "done"))
	}
	t.Run("Dial", func(t *testing.T) {
		tr := &http.Transport{DialContext: s.Dial}
		defer tr.CloseIdleConnections()
		// The host is ignored: every connection of Dial goes upstream.
		check(t, "ws://upstream.invalid/ws", &http.Client{Transport: tr})
	})
	t.Run("EntryRelay", func(t *testing.T) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		check(t, "ws://"+s.Addr()+"/ws", &http.Client{Transport: tr})
	})
}

func TestLossRecovered(t *testing.T) {
	st := echoThrough(t, Faults{Loss: 0.05}, 7, 1<<20).Stats()
	for _, p := range []Packets{st.Up, st.Down} {
		assert.NotZero(t, p.Dropped)
		assert.NotZero(t, p.Retransmitted, "TCP retransmitted what the link lost")
		// 5% of the packets, within a wide band: thousands of draws.
		assert.InDelta(t, 0.05, float64(p.Dropped)/float64(p.Sent), 0.03)
	}
}

// stallWindow is how long a blocked direction must deliver nothing. It
// spans several retransmissions: TCP's RTO starts at 200ms (gvisor's
// MinRTO) and doubles, so 1.5s covers at least three.
const stallWindow = 1500 * time.Millisecond

func TestFullLossStallsThenResumes(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Faults
	}{
		{"loss 100%", Faults{Loss: 1}},
		{"blackhole", Faults{Blackhole: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Int64
			up := newServer(t, sink(&got))
			s := newSegment(t, up.Addr(), Options{})
			c := dialSegment(t, s)
			_, err := c.Write([]byte("x"))
			require.NoError(t, err)
			waitFor(t, "first byte upstream", func() bool { return got.Load() == 1 })

			before := s.Stats().Up
			require.NoError(t, s.SetFaults(Up, tc.f))
			data := payload(64<<10, 5)
			_, err = c.Write(data) // fits the send buffer: returns at once
			require.NoError(t, err)
			time.Sleep(stallWindow) // what is measured: nothing gets through meanwhile
			assert.Equal(t, int64(1), got.Load(), "bytes crossed a direction that drops everything")
			st := s.Stats().Up
			assert.Greater(t, st.Retransmitted, before.Retransmitted, "TCP retransmitted into the loss")
			assert.Equal(t, st.Sent-before.Sent, st.Dropped-before.Dropped, "every packet since the fault was dropped")
			assert.Greater(t, st.Dropped, before.Dropped)

			require.NoError(t, s.SetFaults(Up, Faults{}))
			// The next RTO (backed off to at most a few seconds) resends.
			waitFor(t, "transfer resumed", func() bool { return got.Load() == int64(1+len(data)) })
		})
	}
}

func TestDownLossStallsEcho(t *testing.T) {
	up := newServer(t, echo)
	s := newSegment(t, up.Addr(), Options{})
	c := dialSegment(t, s)
	roundTrip(t, c, []byte("warm"))

	require.NoError(t, s.SetFaults(Down, Faults{Loss: 1}))
	msg := []byte("lost on the way back")
	_, err := c.Write(msg)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(stallWindow)))
	n, err := c.Read(make([]byte, 100))
	assert.Zero(t, n)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "read: %v", err)

	require.NoError(t, s.SetFaults(Down, Faults{}))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
}

func TestCorruptDroppedByChecksum(t *testing.T) {
	s := echoThrough(t, Faults{Corrupt: 0.05}, 3, 512<<10)
	st := s.Stats()
	for _, d := range []struct {
		p    Packets
		recv interface{ Value() uint64 }
	}{
		{st.Up, s.server.Stats().TCP.ChecksumErrors},
		{st.Down, s.client.Stats().TCP.ChecksumErrors},
	} {
		assert.NotZero(t, d.p.Corrupted)
		assert.NotZero(t, d.recv.Value(), "the receiving stack caught bad checksums")
		assert.LessOrEqual(t, d.recv.Value(), d.p.Corrupted)
		assert.NotZero(t, d.p.Retransmitted, "TCP resent what the checksum dropped")
	}
}

func TestDuplicateAndReorderKeepTheStream(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     Faults
		check func(t *testing.T, p Packets)
	}{
		{"duplicate", Faults{Duplicate: 0.1}, func(t *testing.T, p Packets) { assert.NotZero(t, p.Duplicated) }},
		{"reorder", Faults{Reorder: 0.1}, func(t *testing.T, p Packets) { assert.NotZero(t, p.Reordered) }},
		{"jitter", Faults{Delay: time.Millisecond, Jitter: time.Millisecond}, func(t *testing.T, p Packets) { assert.NotZero(t, p.Reordered) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := echoThrough(t, tc.f, 11, 512<<10).Stats()
			tc.check(t, st.Up)
			tc.check(t, st.Down)
			assert.Zero(t, st.Up.Dropped+st.Down.Dropped)
		})
	}
}

func TestMTUBlackhole(t *testing.T) {
	var got atomic.Int64
	up := newServer(t, sink(&got))
	const limit = 1000
	s := newSegment(t, up.Addr(), Options{})
	c := dialSegment(t, s)
	require.NoError(t, s.SetFaults(Up, Faults{MTUBlackhole: limit}))

	// Small writes pass: each is one packet below the limit.
	small := payload(limit/2, 8)
	for i := range 5 {
		_, err := c.Write(small)
		require.NoError(t, err)
		waitFor(t, "small write upstream", func() bool { return got.Load() == int64((i+1)*len(small)) })
	}
	// A large write is cut into full-size segments, which all vanish.
	before := got.Load()
	_, err := c.Write(payload(64<<10, 9))
	require.NoError(t, err)
	time.Sleep(stallWindow) // what is measured: nothing gets through meanwhile
	assert.Equal(t, before, got.Load(), "a large write crossed the MTU black hole")
	st := s.Stats().Up
	assert.NotZero(t, st.TooBig)
	assert.Zero(t, st.Dropped)
}

func TestBandwidthCap(t *testing.T) {
	var got atomic.Int64
	up := newServer(t, sink(&got))
	const rate = 256 << 10 // bytes per second
	s := newSegment(t, up.Addr(), Options{Up: Faults{Bandwidth: rate}})
	c := dialSegment(t, s)

	// Two seconds' worth at the cap: long against the start of the
	// transfer, short for a test.
	const n = 2 * rate
	start := time.Now()
	_, err := c.Write(payload(n, 10))
	require.NoError(t, err)
	waitFor(t, "transfer done", func() bool { return got.Load() == n })
	elapsed := time.Since(start)

	// The cap counts IP bytes, the sink payload: packets carry 1448 bytes
	// of payload in 1500, so payload can come at most at rate*1448/1500.
	// Slower is allowed down to half the cap: TCP overflows the queue,
	// loses packets and backs off, as on a real bottleneck.
	ratio := float64(n) / elapsed.Seconds() / rate
	t.Logf("%d bytes in %v: %.2f of the cap; %+v", n, elapsed, ratio, s.Stats().Up)
	assert.LessOrEqual(t, ratio, 1.0, "faster than the cap")
	assert.GreaterOrEqual(t, ratio, 0.5, "far slower than the cap")
}

func TestSetFaultsValidates(t *testing.T) {
	up := newServer(t, echo)
	s := newSegment(t, up.Addr(), Options{})
	for _, f := range []Faults{{Loss: -0.1}, {Loss: 1.5}, {Corrupt: 2}, {Delay: -1}, {Bandwidth: -1}, {Burst: Burst{ToBad: 3}}} {
		assert.Error(t, s.SetFaults(Up, f), "%+v", f)
	}
	assert.Error(t, s.SetFaults(Direction(2), Faults{}))
	_, err := New(up.Addr(), Options{Down: Faults{Reorder: -1}})
	assert.Error(t, err)
	_, err = New(up.Addr(), Options{MTU: 100})
	assert.Error(t, err)
	_, err = New("", Options{})
	assert.Error(t, err)
}

func TestUpstreamRefusedResets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	s := newSegment(t, addr, Options{})
	// The reset may come before Dial returns, or after.
	c, err := s.Dial(timeoutCtx(t), "tcp", "")
	if err == nil {
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
		_, err = c.Read(make([]byte, 1))
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reset", "a refused upstream reaches the client as a reset")
}

func TestCloseEndsEverything(t *testing.T) {
	up := newServer(t, echo)
	s, err := New(up.Addr(), Options{})
	require.NoError(t, err)
	c, err := s.Dial(timeoutCtx(t), "tcp", "")
	require.NoError(t, err)
	require.NoError(t, s.SetFaults(Down, Faults{Delay: time.Hour}))
	var d net.Dialer
	k, err := d.DialContext(timeoutCtx(t), "tcp", s.Addr())
	require.NoError(t, err)
	defer k.Close()
	_, err = c.Write([]byte("held for an hour on the way back"))
	require.NoError(t, err)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "idempotent")
	_, err = c.Read(make([]byte, 1))
	assert.Error(t, err, "the client stack aborted the connection")
	_, err = s.Dial(context.Background(), "tcp", "")
	assert.Error(t, err)
	// goleak in TestMain checks the goroutines are gone.
}
