//go:build linux

package chaosnet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/fdlimit"
	"github.com/wschaos/wschaos/internal/flood"
	"github.com/wschaos/wschaos/result"
)

// floodChild runs the flood instead of the tests when the test binary was
// started as a flood's child.
func floodChild() bool { return flood.Child() }

// Flood test figures.
const (
	floodConns = 10000
	// floodSetup bounds the child's dialling of all its connections.
	floodSetup = 30 * time.Second
	// duringBound is how long a normal client may take to connect and do a
	// round trip while the flood is held: its upgrade waits behind the
	// flood's upstream dials in Toxiproxy's accept queue (Toxiproxy dials
	// the server before it accepts the next connection), for about
	// MaxConns connections.
	duringBound = 15 * time.Second
	// afterBound is how soon after the flood is gone a normal client must be
	// ready: the chain has nothing left to do but close what the flood held.
	afterBound = 3 * time.Second
	// attemptTimeout bounds one normal client's attempt after the flood.
	attemptTimeout = time.Second
	// fdSettle bounds the return of descriptors to the baseline, and
	// fdSlack is how far above it they may settle (HTTP keep-alives, the
	// Toxiproxy API's connections, the runtime's).
	fdSettle = 10 * time.Second
	fdSlack  = 64
)

// chain is what harness.NewEnv builds: fake server, embedded Toxiproxy and
// a proxy to the server, the wire tap in front of the proxy.
type chain struct {
	server *fakeserver.Server
	toxi   *Toxiproxy
	proxy  *Proxy
	tap    *Tap

	restores atomic.Int64 // by the accept-loop watchdog
}

func newChain(t *testing.T, tapOpts TapOptions) *chain {
	t.Helper()
	var ch chain
	var err error
	ch.server, err = fakeserver.New(fakeserver.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ch.server.Close()) })
	// With its watchdog, as harness.NewEnv has it.
	ch.toxi = newEmbeddedWith(t, ToxiproxyOptions{Watch: WatchOptions{
		OnRestore: func(string, error) { ch.restores.Add(1) },
	}})
	ch.proxy = newProxy(t, ch.toxi, ch.server.Addr())
	ch.tap, err = NewTapWith(ch.proxy.Addr(), tapOpts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ch.tap.Close()) })
	return &ch
}

func (ch *chain) url() string { return "ws://" + ch.tap.Addr() + "/ws" }

// wsRoundTrip connects a normal WebSocket client to url, has the server echo
// a message and returns how long it all took.
func wsRoundTrip(ctx context.Context, url string) (time.Duration, error) {
	start := time.Now()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		if resp != nil && resp.Body != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			resp.Body.Close()
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(body)))
		}
		return 0, err
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		return 0, err
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		return 0, err
	}
	if string(b) != "ping" {
		return 0, fmt.Errorf("echo %q, want ping", b)
	}
	took := time.Since(start)
	_ = c.Close(websocket.StatusNormalClosure, "")
	return took, nil
}

// sampleFDs counts this process's descriptors every 50ms until the
// returned function is called, which returns the most it saw (-1 when it
// could never count: a process out of descriptors cannot read /proc).
func sampleFDs(t *testing.T) (stop func() int) {
	t.Helper()
	done := make(chan struct{})
	result := make(chan int, 1)
	go func() {
		peak := -1
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, countFDs())
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	var peak int
	stop = func() int {
		once.Do(func() { close(done); peak = <-result })
		return peak
	}
	t.Cleanup(func() { stop() })
	return stop
}

// roundTripDuring has a normal client connect and do a round trip while the
// flood is held, as a client does: shed with a 503, it tries again after
// the Retry-After. It returns how long the successful attempt took and which
// attempt it was. A client is shed only if it stays silent while the
// per-address limit's worth of connections arrive after it, which a client
// starved of CPU in this process (the chain's, under the race detector most
// of all) can; so it may take a second try, not more.
func roundTripDuring(t *testing.T, url string) (took time.Duration, attempt int) {
	t.Helper()
	const maxAttempts = 2
	ctx, cancel := context.WithTimeout(t.Context(), duringBound)
	defer cancel()
	for attempt = 1; ; attempt++ {
		took, err := wsRoundTrip(ctx, url)
		if err == nil {
			return took, attempt
		}
		t.Logf("attempt %d: %v", attempt, err)
		require.Less(t, attempt, maxAttempts, "a normal client during the flood: %v", err)
		require.ErrorContains(t, err, "got 503", "a normal client during the flood")
		select {
		case <-ctx.Done():
			t.Fatalf("a normal client during the flood: no round trip within %v: %v", duringBound, err)
		case <-time.After(defaultTapRetryAfter):
		}
	}
}

// countFDs counts this process's open descriptors, or returns -1 if it
// cannot: before Linux 6.2, during a flood the process may have none left
// to list them with.
func countFDs() int {
	n, ok := fdlimit.Open()
	if !ok {
		return -1
	}
	return n
}

// TestFloodChainSurvives holds 10,000 connections against the tap in front
// of an in-process chain (embedded Toxiproxy, fake server) and checks that a
// normal WebSocket client still gets through during the flood and is ready
// within afterBound once the flood is gone, and that the chain's
// descriptors return to where they were.
func TestFloodChainSurvives(t *testing.T) {
	// About 4s (6s under the race detector): it runs with -short too.
	var connects, sheds, closes atomic.Int64
	// Silent connections (the flood's: they never send a byte) that ended
	// without a 503: those the flood still held in the tap when it let go.
	var mu sync.Mutex
	shed := make(map[uint64]bool)
	var silentUnshed int
	opts := floodTapOptions
	opts.OnEvent = func(ev TapEvent) {
		switch {
		case ev.Kind == result.KindTapConnect:
			connects.Add(1)
		case ev.Kind == result.KindTapShed && ev.Status == http.StatusServiceUnavailable:
			mu.Lock()
			shed[ev.Conn] = true
			mu.Unlock()
			sheds.Add(1)
		case ev.Kind == result.KindTapClosed:
			mu.Lock()
			if ev.BytesUp == 0 && !shed[ev.Conn] {
				silentUnshed++
			}
			delete(shed, ev.Conn)
			mu.Unlock()
			closes.Add(1)
		}
	}
	ch := newChain(t, opts)
	total, perAddr := ch.tap.Limits()
	ctx := t.Context()
	_, err := wsRoundTrip(ctx, ch.url())
	require.NoError(t, err, "warm-up")
	http.DefaultClient.CloseIdleConnections()
	before := countFDs()
	require.Positive(t, before)

	peak := sampleFDs(t)
	f := flood.Start(t, ch.tap.Addr(), floodConns)
	setup := time.Now()
	held, failed := f.WaitDialled(t, floodConns, floodSetup)
	t.Logf("flood: %d connections dialled in %v, %d held by the child, %d dials failed; tap limits %d, %d per address; %d accepted, %d live, %d shed",
		floodConns, time.Since(setup).Round(time.Millisecond), held, failed, total, perAddr, connects.Load(), ch.tap.Live(), sheds.Load())
	during := countFDs()

	tookDuring, attempts := roundTripDuring(t, ch.url())

	// Held past DialAfter, the silent connections the tap holds are
	// dialled upstream (MaxDials at a time): wait until the proxy and the
	// server carry the flood too, about five descriptors each. How long
	// that takes depends on how busy the machine is; that it happens does
	// not.
	dialAfter := ch.tap.opts.DialAfter
	require.Eventually(t, func() bool { during = max(during, countFDs()); return during > 3*perAddr },
		dialAfter+floodSetup, 20*time.Millisecond, "the held flood never reached the proxy and the server")
	tookCarried, attemptsCarried := roundTripDuring(t, ch.url())

	// Every connection the tap took beyond the per-address limit is shed
	// with a 503 and a tap-shed event while the flood is held, once those
	// still between their tap-connect and the eviction they cause are
	// through. Not shed: at most perAddr held in the tap, and the normal
	// clients' connections so far (the warm-up's and each attempt's),
	// which left by themselves.
	normalDials := int64(1 + attempts + attemptsCarried)
	if !assert.Eventually(t, func() bool { return sheds.Load() >= connects.Load()-int64(perAddr)-normalDials },
		floodSetup, 10*time.Millisecond, "the tap did not shed the flood beyond its limit of %d (%d normal dials)", perAddr, normalDials) {
		t.Logf("when the wait ended: accepted %d, shed %d", connects.Load(), sheds.Load())
	}

	f.Stop(t)
	released := time.Now()
	peakFDs := peak()
	var tookAfter time.Duration
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		_, err := wsRoundTrip(actx, ch.url())
		cancel()
		if err == nil {
			tookAfter = time.Since(released)
			break
		}
		require.Less(t, time.Since(released), afterBound, "no normal client ready %v after the flood: %v", afterBound, err)
	}

	var after int
	for settle := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		http.DefaultClient.CloseIdleConnections()
		if after = countFDs(); after >= 0 && after <= before+fdSlack {
			break
		}
		require.Less(t, time.Since(settle), fdSettle, "descriptors: %d before the flood, still %d after %v", before, after, fdSettle)
	}
	// Every connection has ended, and of the flood's only those the tap
	// held when the flood let go ended without a 503.
	if !assert.Eventually(t, func() bool { return closes.Load() == connects.Load() }, fdSettle, 10*time.Millisecond,
		"not every accepted connection closed") {
		t.Fatalf("%d connections accepted, %d closed", connects.Load(), closes.Load())
	}
	mu.Lock()
	assert.LessOrEqual(t, silentUnshed, perAddr, "silent connections that ended without a 503")
	mu.Unlock()
	t.Logf("normal client: round trip in %v during the flood (attempt %d), %v once the chain carried it (attempt %d), ready %v after it; "+
		"descriptors %d before, %d during (peak %d), %d after; %d proxy restores",
		tookDuring.Round(time.Millisecond), attempts, tookCarried.Round(time.Millisecond), attemptsCarried,
		tookAfter.Round(time.Millisecond), before, during, peakFDs, after, ch.restores.Load())
	// The chain carried the held flood: about five descriptors each.
	assert.Greater(t, peakFDs, 3*perAddr, "the flood never reached the proxy and the server")
	limit, _ := fdlimit.Soft()
	assert.Less(t, peakFDs, limit, "the chain ran out of descriptors")

}
