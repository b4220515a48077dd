//go:build linux

package chaosnet

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptDeaths is an embedded Toxiproxy's log, reduced to the names of
// the proxies whose accept loop returned with an error.
type acceptDeaths chan string

func (d acceptDeaths) Write(b []byte) (int, error) {
	var line struct{ Name, Message string }
	if json.Unmarshal(b, &line) == nil && line.Message == "Error while accepting client" {
		select {
		case d <- line.Name:
		default:
		}
	}
	return len(b), nil
}

// killAcceptLoop makes the proxy's accept fail with EMFILE, which ends
// Toxiproxy's accept loop for good (proxy.go, Proxy.server), and returns
// the connection left waiting in its queue. deaths is the Toxiproxy's log.
func killAcceptLoop(t *testing.T, p *Proxy, deaths acceptDeaths) *net.TCPConn {
	t.Helper()
	roundTrip(t, dial(t, p.Addr()), "warm") // every accept loop waits in accept
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	low := lim
	low.Cur = uint64(limitForOneFree(t))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	// The limit goes back up once Toxiproxy's accept has had its EMFILE,
	// which it logs as it leaves the loop.
	var died string
	select {
	case died = <-deaths:
	case <-time.After(ioTimeout):
	}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	require.NoError(t, err)
	require.Equal(t, p.Name(), died, "no accept error logged within %v of a dial at the descriptor limit", ioTimeout)
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
	deaths := make(acceptDeaths, 1)
	tp := newEmbeddedWith(t, ToxiproxyOptions{Watch: WatchOptions{Interval: -1}, log: deaths})
	p := newProxy(t, tp, newEchoServer(t).Addr())
	stuck := killAcceptLoop(t, p, deaths)

	// Its accept loop has returned (Toxiproxy logged it): the connection
	// waiting in the queue stays there.
	require.False(t, accepted(t, stuck), "the proxy accepted a connection after its accept loop died")
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

// smallListener listens on loopback with an accept queue of backlog+1
// connections and returns its file descriptor and address.
func smallListener(t *testing.T, backlog int) (int, string) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, backlog))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	return fd, net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// fillQueue keeps dialling addr until the test ends, so that its accept
// queue stays full.
func fillQueue(t *testing.T, addr string) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond); err == nil {
				conns = append(conns, c)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// A loop that accepts slowly behind a full queue is alive; a full queue
// that nothing takes from is dead.
func TestProbeFullQueue(t *testing.T) {
	const stall = 300 * time.Millisecond
	_, deadAddr := smallListener(t, 2)
	fillQueue(t, deadAddr)
	slowFD, slowAddr := smallListener(t, 2)
	fillQueue(t, slowAddr)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // accepts one connection every 50ms
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if nfd, _, err := syscall.Accept4(slowFD, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC); err == nil {
				syscall.Close(nfd)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	waitQueued(t, deadAddr, 3) // a backlog of 2 holds 3
	waitQueued(t, slowAddr, 1)

	ctx := t.Context()
	assert.Equal(t, probeDead, (&Proxy{addr: deadAddr}).probe(ctx, stall), "a full queue nothing takes from")
	assert.Equal(t, probeAlive, (&Proxy{addr: slowAddr}).probe(ctx, stall), "a full queue a slow loop takes from")
}

// waitQueued waits until at least n connections wait in addr's queue.
func waitQueued(t *testing.T, addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		queued, ok := diagQueued(netip.MustParseAddrPort(addr))
		require.True(t, ok)
		if len(queued) >= n {
			return
		}
		require.True(t, time.Now().Before(deadline), "%d queued at %s, want %d", len(queued), addr, n)
		time.Sleep(time.Millisecond)
	}
}
