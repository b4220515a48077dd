package chaosnet

import (
	"github.com/wschaos/wschaos/result"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTapRelaysAndReportsCloses(t *testing.T) {
	tap, evs := newTap(t, newEchoServer(t).Addr())

	c := dial(t, tap.Addr())
	got := evs.until(t, result.KindTapConnect)
	assert.Equal(t, c.LocalAddr().String(), got[0].Client)
	assert.Equal(t, uint64(1), got[0].Conn)
	assert.Equal(t, 1, tap.Live())

	roundTrip(t, c, "hello")
	require.NoError(t, c.CloseWrite())
	// The half-close travels on: the echo server answers it with its own.
	assert.ErrorIs(t, readErr(c), io.EOF)

	got = evs.until(t, result.KindTapClosed)
	require.Equal(t, []result.Kind{result.KindTapClientClose, result.KindTapUpstreamClose, result.KindTapClosed}, kinds(got))
	assert.Equal(t, TapEvent{Conn: 1, Kind: result.KindTapClientClose, Client: c.LocalAddr().String(), BytesUp: 5, BytesDown: 5},
		withoutTime(got[0]))
	// The echo was the last thing written to the client, before it
	// half-closed.
	assert.False(t, got[0].LastDown.IsZero())
	assert.False(t, got[0].LastDown.After(got[0].Time), "last bytes down at %v, after the close at %v", got[0].LastDown, got[0].Time)
	last := got[2]
	assert.Equal(t, int64(5), last.BytesUp)
	assert.Equal(t, int64(5), last.BytesDown)
	assert.False(t, last.Reset)
	assert.Equal(t, 0, tap.Live())

	c2 := dial(t, tap.Addr())
	assert.Equal(t, uint64(2), evs.until(t, result.KindTapConnect)[0].Conn)
	roundTrip(t, c2, "second")
}

func withoutTime(ev TapEvent) TapEvent {
	ev.Time, ev.LastDown = time.Time{}, time.Time{}
	return ev
}

func TestTapUpstreamRefused(t *testing.T) {
	tap, evs := newTap(t, closedAddr(t))
	c := dial(t, tap.Addr())
	assert.ErrorIs(t, readErr(c), io.EOF)
	got := evs.until(t, result.KindTapClosed)
	require.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapRefused, result.KindTapClosed}, kinds(got))
	assert.Contains(t, got[1].Text, "connection refused")
	assert.Equal(t, 0, tap.Live())
}

// A client that resets is reported as such, but the upstream gets a FIN and
// the tap drains it: resetting Toxiproxy with data in flight can wedge its
// toxics (see relay.end).
func TestTapClientResetEndsUpstreamWithFIN(t *testing.T) {
	echo := newEchoServer(t)
	tap, evs := newTap(t, echo.Addr())
	c := dial(t, tap.Addr())
	roundTrip(t, c, "x")
	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close())

	got := evs.until(t, result.KindTapClosed)
	require.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapClientClose, result.KindTapUpstreamClose, result.KindTapClosed}, kinds(got),
		"the upstream closes in turn once it has seen the FIN")
	assert.True(t, got[1].Reset, "client-close: got Reset false, want true")
	assert.ErrorIs(t, <-echo.errs, io.EOF, "the upstream sees a FIN, not the client's RST")
}

// When the client is gone the tap keeps reading what upstream sends until
// upstream closes, so the sender never fails a write.
func TestTapDrainsUpstreamAfterClientLeaves(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	sent := make(chan error, 1)
	accepted := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		close(accepted)
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		// Keep writing well after the client has gone: every write must
		// succeed until the tap sees our FIN.
		chunk := make([]byte, 4096)
		for range 256 {
			if _, err := c.Write(chunk); err != nil {
				sent <- err
				return
			}
		}
		c.(*net.TCPConn).CloseWrite()
		_, err = io.Copy(io.Discard, c)
		sent <- err
	}()
	tap, evs := newTap(t, ln.Addr().String())
	c := dial(t, tap.Addr())
	// The tap dials upstream once the client has spoken.
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	<-accepted
	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close())
	require.NoError(t, <-sent, "upstream writes must not fail after the client left")
	got := evs.until(t, result.KindTapClosed)
	assert.Contains(t, kinds(got), result.KindTapClientClose)
}

func TestTapCloseEndsConnections(t *testing.T) {
	tap, evs := newTap(t, newEchoServer(t).Addr())
	c := dial(t, tap.Addr())
	roundTrip(t, c, "x")
	require.NoError(t, tap.Close())
	assert.ErrorIs(t, readErr(c), io.EOF)
	got := evs.until(t, result.KindTapClosed)
	assert.True(t, got[len(got)-1].Stopped)
	assert.Equal(t, 0, tap.Live())
	require.NoError(t, tap.Close(), "Close is idempotent")
}

// TestTapCloseUnderLoad closes the tap while clients are sending: every
// connection still gets exactly one "closed", and Close leaves no goroutine.
func TestTapCloseUnderLoad(t *testing.T) {
	const clients = 20
	tap, evs := newTap(t, newEchoServer(t).Addr())
	var wg sync.WaitGroup
	for i := range clients {
		c := dial(t, tap.Addr())
		roundTrip(t, c, "warm")
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		if i%2 == 0 {
			require.NoError(t, c.CloseWrite())
		}
	}
	require.NoError(t, tap.Close())
	wg.Wait()
	assert.Equal(t, 0, tap.Live())

	connects, closes := map[uint64]int{}, map[uint64]int{}
	for done := false; !done; {
		select {
		case ev := <-evs.ch:
			switch ev.Kind {
			case result.KindTapConnect:
				connects[ev.Conn]++
			case result.KindTapClosed:
				closes[ev.Conn]++
			}
		default:
			done = true
		}
	}
	assert.Len(t, connects, clients)
	assert.Equal(t, connects, closes, "want one closed per connect")
}
