package client

import (
	"errors"
	"github.com/wschaos/wschaos/internal/quirks"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flapServer accepts, welcomes, keeps each connection up for up[n-1] (the
// last entry repeats), then closes it with 1012.
func flapServer(t *testing.T, up ...time.Duration) *testServer {
	return newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
		p := accept(t, w, r, true)
		if p == nil {
			return
		}
		p.hello()
		p.welcome("s1")
		time.Sleep(up[min(n, len(up))-1])
		p.close(websocket.StatusServiceRestart, "restart")
	})
}

func backoffs(r *recorder) (attempts []int, delays []time.Duration) {
	for _, e := range r.events(EventBackoff) {
		attempts = append(attempts, e.Attempt)
		delays = append(delays, e.NextDelay)
	}
	return attempts, delays
}

// The attempt counter resets only after a connection stayed Ready for
// MinHealthyUptime: short connections keep the backoff growing.
func TestBackoffResetsOnlyAfterHealthyUptime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := flapServer(t, 100*time.Millisecond, 100*time.Millisecond, 3*time.Second, 100*time.Millisecond, time.Hour)
		r := start(t, ts, quiet(Options{MinHealthyUptime: 2 * time.Second}))
		time.Sleep(10 * time.Second)
		stopAndClose(t, r, ts)
		attempts, delays := backoffs(r.rec)
		assert.Equal(t, []int{1, 2, 1, 2}, attempts)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 100 * ms, 200 * ms}, delays)
		disc := r.rec.events(EventDisconnected)
		require.NotEmpty(t, disc)
		assert.Equal(t, CauseCloseFrame, disc[0].Cause)
		assert.EqualValues(t, 1012, disc[0].Code)
		assert.Equal(t, ClassRetry, disc[0].Class)

		// Downtime on the second ready: from the loss to the welcome, which is
		// the backoff delay here (dial and upgrade take no fake time).
		readies := r.rec.events(EventReady)
		require.GreaterOrEqual(t, len(readies), 2)
		assert.Equal(t, 100*ms, readies[1].Downtime)
	})
}

// quirks.ResetBackoffOnConnect lets a flapping server keep the client hot.
func TestQuirkResetBackoffOnConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := flapServer(t, 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond, time.Hour)
		r := start(t, ts, quiet(Options{MinHealthyUptime: 2 * time.Second, quirks: quirks.Set{ResetBackoffOnConnect: true}}))
		time.Sleep(5 * time.Second)
		stopAndClose(t, r, ts)
		attempts, _ := backoffs(r.rec)
		assert.Equal(t, []int{1, 1, 1}, attempts)
	})
}

// A fatal close stops Run with a *FatalError and no further dial.
func TestFatalCloseStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := accept(t, w, r, true)
			if p == nil {
				return
			}
			p.hello()
			p.welcome("s1")
			p.close(CodeLoggedOut, "logged out")
		})
		r := start(t, ts, quiet(Options{}))
		err := <-r.done
		var fe *FatalError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, FatalError{Cause: "close-frame", Code: 4401, Reason: "logged out"}, *fe)
		assert.Equal(t, "client: fatal close 4401 (logged out): not retrying", err.Error())
		time.Sleep(time.Minute)
		assert.Equal(t, int64(1), ts.net.dials.Load(), "dials")
		assert.Equal(t, StateStopped, r.c.State())
		assert.Equal(t, []string{"dialing", "connected", "ready", "disconnected(close-frame)", "fatal(close-frame)", "stopped"}, r.rec.kinds())
		_, err = r.c.Send(t.Context(), "late")
		assert.ErrorIs(t, err, ErrStopped)
		r.cancel()
		ts.close()
	})
}

// A 401 on the upgrade is fatal too, on the very first attempt.
func TestFatalHTTPStatusStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "who are you", http.StatusUnauthorized)
		})
		r := start(t, ts, quiet(Options{}))
		err := <-r.done
		var fe *FatalError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, CauseHTTPStatus, fe.Cause)
		assert.Equal(t, 401, fe.Status)
		assert.Equal(t, int64(1), ts.net.dials.Load())
		r.cancel()
		ts.close()
	})
}

// quirks.RetryFatal keeps dialing after a fatal close.
func TestQuirkRetryFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "forbidden", http.StatusForbidden)
		})
		r := start(t, ts, quiet(Options{quirks: quirks.Set{RetryFatal: true}}))
		time.Sleep(time.Second)
		stopAndClose(t, r, ts)
		assert.Greater(t, ts.net.dials.Load(), int64(3))
		assert.Empty(t, r.rec.events(EventFatal))
	})
}

// The initial connect is retried by the same policy.
func TestInitialConnectRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := flapServer(t, time.Hour)
		ts.net.refuse.Store(2)
		r := start(t, ts, quiet(Options{}))
		time.Sleep(time.Second)
		stopAndClose(t, r, ts)
		assert.Equal(t, []string{
			"dialing", "disconnected(dial-error)", "backoff(dial-error)",
			"dialing", "disconnected(dial-error)", "backoff(dial-error)",
			"dialing", "connected", "ready", "disconnected(stopped)", "stopped",
		}, r.rec.kinds())
		attempts, delays := backoffs(r.rec)
		assert.Equal(t, []int{1, 2}, attempts)
		assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, delays)
		ready := r.rec.first(t, EventReady)
		assert.Equal(t, 2, ready.Attempt)
		assert.Equal(t, uint64(3), ready.Conn)
		assert.Zero(t, ready.Downtime, "no connection was lost before")
	})
}

// Server hints (Retry-After, 1013 reasons) are honoured within clamps, unless
// quirks.IgnoreHints.
func TestHints(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name   string
		handle func(t *testing.T, w http.ResponseWriter, r *http.Request)
		quirks quirks.Set
		hint   time.Duration
		delay  time.Duration
	}{
		{
			name: "RetryAfter",
			handle: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3")
				http.Error(w, "busy", http.StatusServiceUnavailable)
			},
			hint: 3 * time.Second, delay: 3 * time.Second,
		},
		{
			name: "RetryAfterClamped",
			handle: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3600")
				http.Error(w, "busy", http.StatusTooManyRequests)
			},
			hint: 20 * time.Second, delay: 20 * time.Second,
		},
		{
			name: "TryAgainLater",
			handle: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				p := accept(t, w, r, true)
				if p == nil {
					return
				}
				p.hello()
				p.close(websocket.StatusTryAgainLater, "2s")
			},
			hint: 2 * time.Second, delay: 2 * time.Second,
		},
		{
			name: "TryAgainLaterBelowInitial",
			handle: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				p := accept(t, w, r, true)
				if p == nil {
					return
				}
				p.hello()
				p.close(websocket.StatusTryAgainLater, "1ms")
			},
			hint: 100 * ms, delay: 100 * ms,
		},
		{
			name: "TryAgainLaterNoHint",
			handle: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				p := accept(t, w, r, true)
				if p == nil {
					return
				}
				p.hello()
				p.close(websocket.StatusTryAgainLater, "")
			},
			hint: 10 * time.Second, delay: 10 * time.Second, // Backoff.Max
		},
		{
			name: "IgnoreHints",
			handle: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3")
				http.Error(w, "busy", http.StatusServiceUnavailable)
			},
			quirks: quirks.Set{IgnoreHints: true},
			hint:   0, delay: 100 * ms,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) { tt.handle(t, w, r) })
				r := start(t, ts, quiet(Options{HintMax: 20 * time.Second, quirks: tt.quirks}))
				time.Sleep(50 * ms)
				stopAndClose(t, r, ts)
				b := r.rec.first(t, EventBackoff)
				assert.Equal(t, ClassRetryHint, b.Class)
				assert.Equal(t, tt.hint, b.Hint)
				assert.Equal(t, tt.delay, b.NextDelay)
			})
		})
	}
}

// With jitter, a hinted delay lies in [hint, hint*(1+Jitter)].
func TestHintJitterUpward(t *testing.T) {
	c, err := New("ws://x/", Options{})
	require.NoError(t, err)
	for range 1000 {
		d, h := c.nextDelay(connEnd{class: ClassRetryHint, hint: 4 * time.Second})
		require.Equal(t, 4*time.Second, h)
		require.GreaterOrEqual(t, d, 4*time.Second)
		require.LessOrEqual(t, d, 6*time.Second)
	}
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := flapServer(t, time.Hour)
		r := start(t, ts, quiet(Options{}))
		time.Sleep(time.Second)
		err := r.c.Run(t.Context())
		assert.True(t, errors.Is(err, errRunTwice), "got %v, want errRunTwice", err)
		stopAndClose(t, r, ts)
	})
}
