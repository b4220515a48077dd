package chaosnet

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

func newTapWith(t *testing.T, upstream string, opts TapOptions) (*Tap, *tapEvents) {
	t.Helper()
	evs := newTapEvents()
	opts.OnEvent = evs.on
	tap, err := NewTapWith(upstream, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := tap.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("close tap: %v", err)
		}
	})
	return tap, evs
}

// readShed reads the tap's HTTP answer on c and then its FIN.
func readShed(t *testing.T, c net.Conn, status int) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the answer ends with a FIN, not a reset")
	resp.Body.Close()
	assert.Equal(t, status, resp.StatusCode)
	assert.True(t, resp.Close, "Connection: close")
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Regexp(t, `^wschaos tap: .+\n$`, string(body))
	return resp
}

// shedOf returns the tap-shed event for conn among evs.
func shedOf(t *testing.T, evs []TapEvent, conn uint64) TapEvent {
	t.Helper()
	for _, ev := range evs {
		if ev.Kind == result.KindTapShed && ev.Conn == conn {
			return ev
		}
	}
	t.Fatalf("no tap-shed for conn %d in %v", conn, kinds(evs))
	return TapEvent{}
}

// At the limit a newcomer is admitted and an older connection evicted with
// a 503: the oldest silent one first, even when it is newer than one that
// spoke, then the oldest one the server never answered.
func TestTapEvictionOrder(t *testing.T) {
	tap, evs := newTapWith(t, holdAddr(t), TapOptions{MaxConns: 2})
	spoke := dial(t, tap.Addr())
	_, err := spoke.Write([]byte("GET /ws HTTP/1.1\r\n"))
	require.NoError(t, err)
	silent := dial(t, tap.Addr())
	evs.until(t, result.KindTapConnect)
	evs.until(t, result.KindTapConnect)
	waitState(t, tap, 1, connUnanswered)

	newcomer := dial(t, tap.Addr())
	readShed(t, silent, http.StatusServiceUnavailable)
	got := evs.until(t, result.KindTapClosed)
	shed := shedOf(t, got, 2)
	assert.Equal(t, http.StatusServiceUnavailable, shed.Status)
	assert.Contains(t, shed.Reason, "limit of 2 connections")
	assert.Contains(t, shed.Reason, "sent nothing")
	assert.Equal(t, uint64(2), got[len(got)-1].Conn, "tap-shed comes before tap-closed")

	_, err = newcomer.Write([]byte("GET"))
	require.NoError(t, err)
	waitState(t, tap, 3, connUnanswered)
	dial(t, tap.Addr())
	readShed(t, spoke, http.StatusServiceUnavailable)
	shed = shedOf(t, evs.until(t, result.KindTapClosed), 1)
	assert.Contains(t, shed.Reason, "never answered")
	assert.Equal(t, 2, tap.Live())
}

// holdAddr is holdServer's address.
func holdAddr(t *testing.T) string {
	t.Helper()
	addr, _ := holdServer(t)
	return addr
}

// waitState waits until the tap's connection conn has reached state.
func waitState(t *testing.T, tap *Tap, conn uint64, state int) {
	t.Helper()
	waitRelay(t, tap, conn, "reach its state", func(r *relay) bool { return r.entry.state >= state })
}

// waitRelay waits until cond holds for the tap's connection conn, under the
// tap's lock.
func waitRelay(t *testing.T, tap *Tap, conn uint64, what string, cond func(*relay) bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for time.Now().Before(deadline) {
		tap.mu.Lock()
		held := false
		for r := range tap.conns {
			held = held || r.id == conn && cond(r)
		}
		tap.mu.Unlock()
		if held {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("conn %d did not %s within %v", conn, what, ioTimeout)
}

// With every connection answered, the one idle longest is evicted, with a
// FIN and no HTTP answer (it is mid-stream).
func TestTapEvictsIdlestAnswered(t *testing.T) {
	tap, evs := newTapWith(t, newEchoServer(t).Addr(), TapOptions{MaxConns: 2})
	a := dial(t, tap.Addr())
	roundTrip(t, a, "a")
	b := dial(t, tap.Addr())
	roundTrip(t, b, "b")
	roundTrip(t, a, "a again") // b is now the idlest

	c := dial(t, tap.Addr())
	assert.ErrorIs(t, readErr(b), io.EOF)
	shed := shedOf(t, evs.until(t, result.KindTapClosed), 2)
	assert.Equal(t, 0, shed.Status)
	assert.Contains(t, shed.Reason, "idle longest")
	roundTrip(t, a, "a stays")
	roundTrip(t, c, "c in")
}

// An address at its own limit evicts one of its own connections, not
// another address's.
func TestTapPerAddressLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux routes all of 127.0.0.0/8 to lo")
	}
	tap, evs := newTapWith(t, newEchoServer(t).Addr(), TapOptions{MaxConns: 10, MaxConnsPerAddr: 1})
	min, max := tap.Limits()
	assert.Equal(t, 10, min)
	assert.Equal(t, 1, max)
	other := dialFrom(t, "127.0.0.2", tap.Addr())
	roundTrip(t, other, "other address")
	first := dial(t, tap.Addr())
	roundTrip(t, first, "first")
	second := dial(t, tap.Addr())
	roundTrip(t, second, "second")
	assert.ErrorIs(t, readErr(first), io.EOF)
	shed := shedOf(t, evs.until(t, result.KindTapClosed), 2)
	assert.Contains(t, shed.Reason, "limit of 1 connections from 127.0.0.1")
	roundTrip(t, other, "the other address keeps its connection")
}

func dialFrom(t *testing.T, local, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: ioTimeout}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	return c.(*net.TCPConn)
}

func TestTapFirstByteTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tap, evs := newTapWith(t, newEchoServer(t).Addr(), TapOptions{FirstByteTimeout: timeout})
	start := time.Now()
	c := dial(t, tap.Addr())
	readShed(t, c, http.StatusRequestTimeout)
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	shed := shedOf(t, evs.until(t, result.KindTapClosed), 1)
	assert.Equal(t, http.StatusRequestTimeout, shed.Status)

	// A client that speaks in time is not bound by it.
	c2 := dial(t, tap.Addr())
	roundTrip(t, c2, "hello")
	time.Sleep(3 * timeout)
	roundTrip(t, c2, "still here")
}

// holdServer accepts connections and never reads, writes or closes them
// until the test ends: a peer that never answers a FIN, like a proxy whose
// accept loop died. accepted counts the connections it took.
func holdServer(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var n atomic.Int64
	var held []net.Conn // the accepting goroutine's until done
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			n.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int { return int(n.Load()) }
}

// A half-close the upstream never answers is bounded: before, the tap held
// both descriptors for ever and its upstream socket sat in FIN-WAIT-2.
func TestTapHalfCloseTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tap, evs := newTapWith(t, holdAddr(t), TapOptions{HalfCloseTimeout: timeout})
	c := dial(t, tap.Addr())
	_, err := c.Write([]byte("request"))
	require.NoError(t, err)
	// The tap's bound starts when it reads the FIN: after CloseWrite
	// began, perhaps before it returned here.
	start := time.Now()
	require.NoError(t, c.CloseWrite())
	assert.ErrorIs(t, readErr(c), io.EOF)
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	got := evs.until(t, result.KindTapClosed)
	assert.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapClientClose, result.KindTapShed, result.KindTapClosed}, kinds(got))
	assert.Contains(t, shedOf(t, got, 1).Reason, "half-closed")
	assert.Equal(t, 0, tap.Live())
}

// The same bound holds for the drain after a client vanished.
func TestTapDrainBounded(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tap, evs := newTapWith(t, holdAddr(t), TapOptions{HalfCloseTimeout: timeout})
	c := dial(t, tap.Addr())
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close())
	got := evs.until(t, result.KindTapClosed)
	assert.Contains(t, kinds(got), result.KindTapShed)
	assert.Equal(t, 0, tap.Live())
}
