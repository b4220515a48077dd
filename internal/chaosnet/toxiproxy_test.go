package chaosnet

import (
	"context"
	"errors"
	"fmt"
	"github.com/wschaos/wschaos/result"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedBasics(t *testing.T) {
	tp := newEmbedded(t)
	assert.Equal(t, ModeEmbedded, tp.Mode())
	assert.True(t, strings.HasPrefix(tp.URL(), "http://127.0.0.1:"), "got URL %q, want loopback", tp.URL())
	v, err := tp.Version(apiCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "git", v, "an embedded server reports the unreleased version")

	p := newProxy(t, tp, newEchoServer(t).Addr())
	host, port, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port, "got Addr %q, want the bound port", p.Addr())

	_, err = tp.NewProxy(apiCtx(t), p.Name(), p.Upstream())
	assert.ErrorContains(t, err, "proxy already exists")
}

func TestProxyDisableEnable(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())

	c := dial(t, p.Addr())
	roundTrip(t, c, "hello")

	require.NoError(t, p.Disable(apiCtx(t)))
	assert.ErrorIs(t, readErr(c), io.EOF, "disable closes open connections with a FIN")
	_, err := net.Dial("tcp", p.Addr())
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "disabled proxy refuses dials")

	require.NoError(t, p.Enable(apiCtx(t)))
	roundTrip(t, dial(t, p.Addr()), "again")
}

// A proxy on a loopback address of its own binds the same address again
// after Disable and Enable.
func TestProxyOnOwnLoopbackAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux routes all of 127.0.0.0/8 to lo")
	}
	tp := newEmbedded(t)
	p, err := tp.NewProxyOn(apiCtx(t), "own-loopback", "127.3.2.1:0", newEchoServer(t).Addr())
	require.NoError(t, err)
	host, _, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.3.2.1", host)
	require.NoError(t, p.Disable(apiCtx(t)))
	require.NoError(t, p.Enable(apiCtx(t)))
	roundTrip(t, dial(t, p.Addr()), "hello")
}

func TestTimeoutToxicBlackHole(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	c := dial(t, p.Addr())
	roundTrip(t, c, "before")

	for _, stream := range []string{"upstream", "downstream"} {
		require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Name: "hole_" + stream, Type: "timeout", Stream: stream}))
	}
	_, err := c.Write([]byte("into the hole"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	err = readErr(c)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "a black hole is silent, not closed")

	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))
	require.NoError(t, p.RemoveToxic(apiCtx(t), "hole_downstream"))
	assert.ErrorIs(t, readErr(c), io.EOF, "removing a timeout toxic closes its connections with a FIN")
	require.NoError(t, p.RemoveToxic(apiCtx(t), "hole_upstream"))
	roundTrip(t, dial(t, p.Addr()), "after")
}

func TestResetPeerArmedThroughTap(t *testing.T) {
	tp := newEmbedded(t)
	echo := newEchoServer(t)
	p := newProxy(t, tp, echo.Addr())
	// Armed before the client connects: the proxy sets SO_LINGER 0 at accept.
	require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Name: "rst", Type: "reset_peer", Armed: true}))
	tap, evs := newTap(t, p.Addr())

	c := dial(t, tap.Addr())
	roundTrip(t, c, "armed but inactive")
	require.NoError(t, p.Activate(apiCtx(t), "rst"))

	// reset_peer waits for a chunk in its direction: an idle connection lives on.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	assert.ErrorIs(t, readErr(c), os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))

	// The echo of this is the chunk that fires it (and is dropped).
	_, err := c.Write([]byte("trigger"))
	require.NoError(t, err)
	err = readErr(c)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "got %v", err)
	assert.ErrorIs(t, <-echo.errs, syscall.ECONNRESET, "the server side is reset too")

	got := evs.until(t, result.KindTapClosed)
	assert.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapUpstreamClose, result.KindTapClosed}, kinds(got))
	assert.True(t, got[1].Reset, "upstream-close: got Reset false, want true")
	assert.True(t, got[2].Reset, "closed: got Reset false, want true")
}

func TestResetPeerAddedLateClosesWithFIN(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	c := dial(t, p.Addr())
	roundTrip(t, c, "connected first")

	require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Type: "reset_peer"}))
	_, err := c.Write([]byte("trigger"))
	require.NoError(t, err)
	assert.ErrorIs(t, readErr(c), io.EOF, "reset_peer on a connection accepted before it gives a FIN")
}

func TestLatencyDownstream(t *testing.T) {
	const latency = 50 * time.Millisecond
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Type: "latency", Attributes: map[string]int{"latency": int(latency / time.Millisecond)}}))

	c := dial(t, p.Addr())
	for range 3 {
		start := time.Now()
		roundTrip(t, c, "tick")
		rtt := time.Since(start)
		assert.GreaterOrEqual(t, rtt, latency, "got round trip %v, want at least %v", rtt, latency)
	}
}

func TestLimitDataClosesAfterBytes(t *testing.T) {
	const limit = 10
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Type: "limit_data", Attributes: map[string]int{"bytes": limit}}))

	c := dial(t, p.Addr())
	msg := strings.Repeat("x", 3*limit)
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	got, err := io.ReadAll(c) // nil error means EOF
	require.NoError(t, err)
	assert.Equal(t, msg[:limit], string(got))
}

func TestProxyDelete(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	c := dial(t, p.Addr())
	roundTrip(t, c, "x")
	require.NoError(t, p.Delete(apiCtx(t)))
	assert.ErrorIs(t, readErr(c), io.EOF)
	err := p.Enable(apiCtx(t))
	assert.ErrorContains(t, err, "proxy not found")
}

func TestAddToxicErrors(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	for _, tc := range []struct {
		name string
		tx   Toxic
		want string
	}{
		{"UnknownType", Toxic{Type: "packet_loss"}, `chaosnet: add toxic "packet_loss_downstream": unknown type "packet_loss", want one of latency,`},
		{"BadStream", Toxic{Type: "latency", Stream: "up"}, `stream "up", want upstream or downstream`},
		{"BadToxicity", Toxic{Type: "latency", Toxicity: 2}, "toxicity 2, want"},
		{"ArmedWithToxicity", Toxic{Type: "reset_peer", Armed: true, Toxicity: 0.5}, "armed with toxicity 0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorContains(t, p.AddToxic(apiCtx(t), tc.tx), tc.want)
		})
	}
	require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Name: "dup", Type: "latency"}))
	assert.ErrorContains(t, p.AddToxic(apiCtx(t), Toxic{Name: "dup", Type: "latency"}), `chaosnet: add toxic "dup": AddToxic: HTTP 409: toxic already exists`)
	assert.ErrorContains(t, p.Activate(apiCtx(t), "missing"), "toxic not found")
	assert.ErrorContains(t, p.RemoveToxic(apiCtx(t), "missing"), "toxic not found")
}

func TestContextAndClose(t *testing.T) {
	tp, err := StartToxiproxy(apiCtx(t), "")
	require.NoError(t, err)
	p := newProxy(t, tp, newEchoServer(t).Addr())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, p.Disable(ctx), context.Canceled)

	c := dial(t, p.Addr())
	roundTrip(t, c, "x")
	require.NoError(t, tp.Close())
	assert.ErrorIs(t, readErr(c), io.EOF, "Close stops the proxies")
	require.NoError(t, tp.Close(), "Close is idempotent")
	_, err = tp.Version(apiCtx(t))
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, p.Enable(apiCtx(t)), ErrClosed)
}

// The embedded API can listen where a person's tools look for it.
func TestStartEmbeddedOn(t *testing.T) {
	addr := closedAddr(t)
	tp, err := StartEmbeddedToxiproxy(addr)
	require.NoError(t, err)
	defer tp.Close()
	assert.Equal(t, "http://"+addr, tp.URL())
	assert.Equal(t, ModeEmbedded, tp.Mode())
	_, err = tp.Version(apiCtx(t))
	require.NoError(t, err)

	_, err = StartEmbeddedToxiproxy(addr)
	assert.ErrorContains(t, err, "address already in use")
}

func TestStartExternalUnreachable(t *testing.T) {
	addr := closedAddr(t)
	_, err := StartToxiproxy(apiCtx(t), addr)
	require.Error(t, err)
	assert.ErrorContains(t, err, "http://"+addr)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// TestExternal drives a real toxiproxy-server at TOXIPROXY_URL. To run it:
//
//	go build -o /tmp/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server
//	/tmp/toxiproxy-server -host 127.0.0.1 -port 8475 &
//	TOXIPROXY_URL=http://127.0.0.1:8475 go test -run TestExternal ./internal/chaosnet/
func TestExternal(t *testing.T) {
	url := os.Getenv("TOXIPROXY_URL")
	if url == "" {
		t.Skip("TOXIPROXY_URL not set: no external toxiproxy-server to test against")
	}
	tp, err := StartToxiproxy(apiCtx(t), url)
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			tp.Close()
		}
	})
	assert.Equal(t, ModeExternal, tp.Mode())

	echo := newEchoServer(t)
	p := newProxy(t, tp, echo.Addr())
	require.NoError(t, p.AddToxic(apiCtx(t), Toxic{Name: "rst", Type: "reset_peer", Armed: true}))
	c := dial(t, p.Addr())
	roundTrip(t, c, "through an external server")
	require.NoError(t, p.Activate(apiCtx(t), "rst"))
	_, err = c.Write([]byte("trigger"))
	require.NoError(t, err)
	assert.ErrorIs(t, readErr(c), syscall.ECONNRESET)

	gone := newProxy(t, tp, echo.Addr())
	require.NoError(t, gone.Delete(apiCtx(t)))

	require.NoError(t, p.RemoveToxic(apiCtx(t), "rst"))
	c2 := dial(t, p.Addr())
	roundTrip(t, c2, "x")
	closed = true
	require.NoError(t, tp.Close())
	assert.ErrorIs(t, readErr(c2), io.EOF, "Close deletes the proxies it created")
	_, err = net.Dial("tcp", p.Addr())
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "got %v, want ECONNREFUSED after Close", err)
}

// TestCallsEndWithContext runs against a server that answers /version and then
// hangs: calls must return when their context ends, and Close must wait for the
// request left behind.
func TestCallsEndWithContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprintln(w, `{"version": "hanging"}`)
			return
		}
		<-release
		http.Error(w, `{"error": "released", "status": 503}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	tp, err := StartToxiproxy(apiCtx(t), srv.URL)
	require.NoError(t, err)
	v, err := tp.Version(apiCtx(t))
	require.NoError(t, err)
	assert.Equal(t, "hanging", v)

	const wait = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	start := time.Now()
	_, err = tp.NewProxy(ctx, "p", "127.0.0.1:1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), ioTimeout, "NewProxy did not return when its context ended")

	closed := make(chan error, 1)
	go func() { closed <- tp.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a request was in flight", err)
	case <-time.After(wait):
	}
	close(release)
	assert.NoError(t, <-closed)
}

// TestDisableThroughTap shows what the harness sees of a proxy outage: the FIN
// comes through the tap, and while the proxy is down the tap accepts dials and
// closes them (a client behind the tap never sees ECONNREFUSED).
func TestDisableThroughTap(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	tap, evs := newTap(t, p.Addr())

	c := dial(t, tap.Addr())
	roundTrip(t, c, "x")
	require.NoError(t, p.Disable(apiCtx(t)))
	assert.ErrorIs(t, readErr(c), io.EOF)
	require.NoError(t, c.Close())
	got := evs.until(t, result.KindTapClosed)
	require.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapUpstreamClose, result.KindTapClientClose, result.KindTapClosed}, kinds(got))
	assert.False(t, got[1].Reset)
	assert.Equal(t, int64(1), got[3].BytesUp)
	assert.Equal(t, int64(1), got[3].BytesDown)

	c2 := dial(t, tap.Addr())
	assert.ErrorIs(t, readErr(c2), io.EOF)
	got = evs.until(t, result.KindTapClosed)
	require.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapRefused, result.KindTapClosed}, kinds(got))
	assert.Equal(t, uint64(2), got[0].Conn)

	require.NoError(t, p.Enable(apiCtx(t)))
	roundTrip(t, dial(t, tap.Addr()), "back")
}
