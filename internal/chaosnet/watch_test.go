//go:build linux

package chaosnet

import (
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// killAcceptLoop makes the proxy's accept fail with EMFILE, which ends
// Toxiproxy's accept loop for good (proxy.go, Proxy.server), and returns
// the connection left waiting in its queue.
func killAcceptLoop(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	roundTrip(t, dial(t, p.Addr()), "warm") // every accept loop waits in accept
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	low := lim
	low.Cur = uint64(limitForOneFree(t))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	// Give Toxiproxy's accept its EMFILE before the limit goes back up.
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func accepted(t *testing.T, c net.Conn) bool {
	t.Helper()
	ok, known := diagAccepted(netip.MustParseAddrPort(c.LocalAddr().String()), netip.MustParseAddrPort(c.RemoteAddr().String()))
	require.True(t, known)
	return ok
}

// A proxy whose accept loop died accepts nothing while its API says
// enabled; the watchdog finds it and restores it.
func TestWatchRestoresDeadAcceptLoop(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	stuck := killAcceptLoop(t, p)

	const grace = 300 * time.Millisecond
	time.Sleep(grace)
	require.False(t, accepted(t, stuck), "the proxy accepted within %v: its accept loop did not die", grace)
	status, body := apiRequest(t, tp, http.MethodGet, "/proxies/"+p.Name(), "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `"enabled":true`, "Toxiproxy still says enabled")

	restored := make(chan error, 1)
	tp.watch = WatchOptions{Interval: 50 * time.Millisecond, Stall: 200 * time.Millisecond,
		OnRestore: func(name string, err error) {
			assert.Equal(t, p.Name(), name)
			restored <- err
		}}
	start := time.Now()
	p.startWatch()
	// A probe, its stall, and the API's disable and enable.
	bound := tp.watch.Interval + tp.watch.Stall + ioTimeout
	select {
	case err := <-restored:
		require.NoError(t, err)
	case <-time.After(bound):
		t.Fatalf("no restore within %v", bound)
	}
	t.Logf("restored %v after the watchdog started", time.Since(start).Round(time.Millisecond))
	roundTrip(t, dial(t, p.Addr()), "accepting again")
	require.NoError(t, p.Delete(apiCtx(t)))
}

// A proxy disabled on purpose, by Disable or by anyone through the API, is
// left alone.
func TestWatchLeavesDisabledProxies(t *testing.T) {
	restored := make(chan error, 1)
	watch := WatchOptions{Interval: 20 * time.Millisecond, Stall: 100 * time.Millisecond,
		OnRestore: func(string, error) { restored <- nil }}
	tp := newEmbeddedWith(t, ToxiproxyOptions{Watch: watch})
	echo := newEchoServer(t).Addr()
	mine := newProxy(t, tp, echo)
	theirs := newProxy(t, tp, echo)
	require.NoError(t, mine.Disable(apiCtx(t)))
	status, body := apiRequest(t, tp, http.MethodPatch, "/proxies/"+theirs.Name(), `{"enabled":false}`)
	require.Equal(t, http.StatusOK, status, body)

	select {
	case <-restored:
		t.Fatal("the watchdog restored a proxy that was disabled on purpose")
	case <-time.After(10 * watch.Interval):
	}
	for _, p := range []*Proxy{mine, theirs} {
		_, err := net.Dial("tcp", p.Addr())
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	}
	require.NoError(t, mine.Enable(apiCtx(t)))
	roundTrip(t, dial(t, mine.Addr()), "enabled again")
}

// A healthy proxy is never restored, however often it is probed.
func TestWatchLeavesHealthyProxies(t *testing.T) {
	restored := make(chan error, 1)
	watch := WatchOptions{Interval: 10 * time.Millisecond, Stall: 100 * time.Millisecond,
		OnRestore: func(string, error) { restored <- nil }}
	tp := newEmbeddedWith(t, ToxiproxyOptions{Watch: watch})
	p := newProxy(t, tp, newEchoServer(t).Addr())
	c := dial(t, p.Addr())
	for range 20 {
		roundTrip(t, c, "steady")
		time.Sleep(watch.Interval)
	}
	select {
	case <-restored:
		t.Fatal("the watchdog restored a healthy proxy")
	default:
	}
}
