package client

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Plain mode: the connection and liveness layer alone, against a server
// that knows nothing of the session protocol.

// rawMsg is one message a plain server received.
type rawMsg struct {
	typ  websocket.MessageType
	body string
}

// rawPeer is the server end of a plain WebSocket connection.
type rawPeer struct {
	ws *websocket.Conn
	in chan rawMsg // closed when reading fails
}

// acceptRaw upgrades and reads messages as they come. pongs says whether
// pings are answered.
func acceptRaw(t *testing.T, w http.ResponseWriter, r *http.Request, pongs bool) *rawPeer {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OnPingReceived: func(context.Context, []byte) bool { return pongs },
	})
	if err != nil {
		t.Errorf("accept: %v", err)
		return nil
	}
	p := &rawPeer{ws: ws, in: make(chan rawMsg, 1024)}
	go func() {
		defer close(p.in)
		for {
			typ, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			p.in <- rawMsg{typ, string(b)}
		}
	}()
	return p
}

func (p *rawPeer) drain() {
	for range p.in {
	}
	_ = p.ws.CloseNow()
}

// collect reads until the client goes away, then hands on what it read.
func (p *rawPeer) collect(got chan<- []rawMsg) {
	var msgs []rawMsg
	for m := range p.in {
		msgs = append(msgs, m)
	}
	got <- msgs
	_ = p.ws.CloseNow()
}

// onlyStopped asserts that the one disconnect was the test's own stop.
func onlyStopped(t *testing.T, r *running) {
	t.Helper()
	disc := r.rec.events(EventDisconnected)
	require.Len(t, disc, 1, "got %v", r.rec.kinds())
	assert.Equal(t, CauseStopped, disc[0].Cause)
}

func (p *rawPeer) close(code websocket.StatusCode, reason string) {
	_ = p.ws.Close(code, reason)
	for range p.in {
	}
}

// The connection is ready on the upgrade: no hello is written, and
// dialing, connected and ready share one instant.
func TestPlainReadyOnUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan []rawMsg, 1)
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			if p := acceptRaw(t, w, r, true); p != nil {
				p.collect(got)
			}
		})
		r := startPlain(t, ts, quiet(Options{}))
		time.Sleep(time.Second)
		require.Equal(t, StateReady, r.c.State())
		stopAndClose(t, r, ts)

		assert.Empty(t, <-got, "a plain client writes nothing of its own")
		assert.Equal(t, []string{"dialing", "connected", "ready", "disconnected(stopped)", "stopped"}, r.rec.kinds())
		dialing, ready := r.rec.first(t, EventDialing), r.rec.first(t, EventReady)
		assert.Equal(t, dialing.Time, ready.Time, "ready at the upgrade, which takes no fake time")
		assert.False(t, ready.Resumed)
		assert.Equal(t, StateReady, ready.State)
	})
}

// A server that keeps sending but never reads: the client's message stays
// unwritten, as it would in an upstream black hole. Session mode would call
// that an ack timeout; plain mode has no acknowledgements, so nothing ends
// the connection while data still arrives (the heartbeat covers silence).
func TestPlainNoAckTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				t.Errorf("accept: %v", err)
				return
			}
			defer ws.CloseNow()
			for ws.Write(context.Background(), websocket.MessageText, []byte("tick")) == nil {
				time.Sleep(500 * time.Millisecond)
			}
		})
		r := startPlain(t, ts, Options{PingInterval: time.Second, PongTimeout: time.Second, AckTimeout: 1500 * time.Millisecond})
		time.Sleep(100 * time.Millisecond)
		_, err := r.c.Send(t.Context(), "never read")
		require.NoError(t, err)
		time.Sleep(10 * time.Second)
		assert.Equal(t, StateReady, r.c.State())
		stopAndClose(t, r, ts)
		onlyStopped(t, r)
		assert.Len(t, r.rec.messages(), 21)
	})
}

// Send writes each message as its bare text, in order; messages queued
// while disconnected go out once the next connection is ready. OnMessage
// gets every inbound message as it came, text or binary, with Seq 0, and
// text that looks like a protocol envelope is no protocol error.
func TestPlainSendAndOnMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan []rawMsg, 2)
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := acceptRaw(t, w, r, true)
			if p == nil {
				return
			}
			ctx := context.Background()
			_ = p.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"bogus"}`))
			_ = p.ws.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2})
			p.collect(got)
		})
		ts.net.refuse.Store(1) // the first dial fails: the messages wait in the outbox
		r := startPlain(t, ts, quiet(Options{}))
		for i, body := range []string{"one", "two", `{"type":"msg","seq":1}`} {
			seq, err := r.c.Send(t.Context(), body)
			require.NoError(t, err)
			assert.Equal(t, uint64(i+1), seq, "local numbering")
		}
		time.Sleep(time.Second)
		stopAndClose(t, r, ts)

		assert.Equal(t, []rawMsg{
			{websocket.MessageText, "one"}, {websocket.MessageText, "two"}, {websocket.MessageText, `{"type":"msg","seq":1}`},
		}, <-got)
		assert.Equal(t, []Message{{Body: `{"type":"bogus"}`}, {Body: "\x00\x01\x02", Binary: true}}, r.rec.messages())
		assert.Equal(t, "disconnected(dial-error)", r.rec.kinds()[1])
		assert.Len(t, r.rec.events(EventReady), 1)
	})
}

// A message leaves the outbox once written: it is not written again on the
// next connection (no acknowledgement, so no resend), whereas one sent while
// the client waits out its backoff is written on the next connection.
func TestPlainNoResendAfterLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan []rawMsg, 2)
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := acceptRaw(t, w, r, true)
			if p == nil {
				return
			}
			if n > 1 {
				p.collect(got)
				return
			}
			first := <-p.in
			_ = p.ws.CloseNow() // TCP gone, no close frame
			got <- []rawMsg{first}
		})
		r := startPlain(t, ts, quiet(Options{}))
		time.Sleep(time.Second)
		_, err := r.c.Send(t.Context(), "before")
		require.NoError(t, err)
		synctest.Wait()
		require.Equal(t, StateBackoff, r.c.State(), "the server dropped the connection: %v", r.rec.kinds())
		_, err = r.c.Send(t.Context(), "during backoff")
		require.NoError(t, err)
		time.Sleep(time.Second)
		stopAndClose(t, r, ts)

		assert.Equal(t, []rawMsg{{websocket.MessageText, "before"}}, <-got)
		assert.Equal(t, []rawMsg{{websocket.MessageText, "during backoff"}}, <-got)
		disc := r.rec.first(t, EventDisconnected)
		assert.Equal(t, CauseReadError, disc.Cause)
		assert.EqualValues(t, 1006, disc.Code)
		readies := r.rec.events(EventReady)
		require.Len(t, readies, 2)
		assert.Equal(t, 100*time.Millisecond, readies[1].Downtime, "the first retry's delay")
	})
}

// While disconnected the outbox bounds what Send accepts: a full outbox is
// an error, never a silent drop.
func TestPlainOutboxBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := idleServer(t, false, true)
		ts.net.refuse.Store(1000)
		r := startPlain(t, ts, quiet(Options{OutboxMessages: 2}))
		for range 2 {
			_, err := r.c.Send(t.Context(), "m")
			require.NoError(t, err)
		}
		_, err := r.c.Send(t.Context(), "m")
		assert.ErrorIs(t, err, ErrOutboxFull)
		stopAndClose(t, r, ts)
	})
}

// Backoff in plain mode is the same policy: short connections keep the
// attempt counter growing, one that stayed up MinHealthyUptime resets it.
func TestPlainBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 3 * time.Second, 100 * time.Millisecond, time.Hour}
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := acceptRaw(t, w, r, true)
			if p == nil {
				return
			}
			time.Sleep(up[min(n, len(up))-1])
			p.close(websocket.StatusServiceRestart, "restart")
		})
		r := startPlain(t, ts, quiet(Options{MinHealthyUptime: 2 * time.Second}))
		time.Sleep(10 * time.Second)
		stopAndClose(t, r, ts)
		attempts, delays := backoffs(r.rec)
		assert.Equal(t, []int{1, 2, 1, 2}, attempts)
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 100 * ms, 200 * ms}, delays)
		disc := r.rec.first(t, EventDisconnected)
		assert.Equal(t, CauseCloseFrame, disc.Cause)
		assert.EqualValues(t, 1012, disc.Code)
	})
}

// The close-reason taxonomy and the hints apply in plain mode as they are.
func TestPlainCloseCodes(t *testing.T) {
	closeWith := func(code websocket.StatusCode, reason string) func(t *testing.T, w http.ResponseWriter, r *http.Request) {
		return func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			if p := acceptRaw(t, w, r, true); p != nil {
				p.close(code, reason)
			}
		}
	}
	tests := []struct {
		name   string
		handle func(t *testing.T, w http.ResponseWriter, r *http.Request)
		class  Class
		delay  time.Duration
	}{
		{"GoingAway1001", closeWith(websocket.StatusGoingAway, ""), ClassRetry, 100 * time.Millisecond},
		{"TryAgainLater1013", closeWith(websocket.StatusTryAgainLater, "2s"), ClassRetryHint, 2 * time.Second},
		{"RetryAfter503", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}, ClassRetryHint, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) { tt.handle(t, w, r) })
				r := startPlain(t, ts, quiet(Options{}))
				time.Sleep(50 * time.Millisecond)
				stopAndClose(t, r, ts)
				b := r.rec.first(t, EventBackoff)
				assert.Equal(t, tt.class, b.Class)
				assert.Equal(t, tt.delay, b.NextDelay)
			})
		})
	}
	t.Run("LoggedOut4401", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
				if p := acceptRaw(t, w, r, true); p != nil {
					p.close(CodeLoggedOut, "logged out")
				}
			})
			r := startPlain(t, ts, quiet(Options{}))
			err := <-r.done
			var fe *FatalError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, FatalError{Cause: CauseCloseFrame, Code: 4401, Reason: "logged out"}, *fe)
			time.Sleep(time.Minute)
			assert.Equal(t, int64(1), ts.net.dials.Load(), "no retry after a fatal close")
			r.cancel()
			ts.close()
		})
	})
	// Messages accepted and never written when the server refuses for good
	// are handed back, in order, with the numbers Send returned.
	t.Run("Unauthorized401", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "who are you", http.StatusUnauthorized)
			})
			ts.net.refuse.Store(1)
			r := startPlain(t, ts, quiet(Options{}))
			for _, body := range []string{"a", "b"} {
				_, err := r.c.Send(t.Context(), body)
				require.NoError(t, err)
			}
			err := <-r.done
			var fe *FatalError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, 401, fe.Status)
			assert.Equal(t, []Message{{Seq: 1, Body: "a"}, {Seq: 2, Body: "b"}}, fe.Undelivered)
			assert.Len(t, r.rec.events(EventUndelivered), 1)
			r.cancel()
			ts.close()
		})
	})
}

// An inbound message over 1 MiB ends the connection: the client closes it
// with 1009 (message too big) and reconnects, in either mode.
func TestPlainMessageTooBig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		closed := make(chan websocket.StatusCode, 1)
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			if n > 1 {
				if p := acceptRaw(t, w, r, true); p != nil {
					p.drain()
				}
				return
			}
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				t.Errorf("accept: %v", err)
				return
			}
			defer ws.CloseNow()
			_ = ws.Write(context.Background(), websocket.MessageText, make([]byte, 1<<20+1))
			_, _, err = ws.Read(context.Background())
			closed <- websocket.CloseStatus(err)
		})
		r := startPlain(t, ts, quiet(Options{}))
		time.Sleep(time.Second)
		stopAndClose(t, r, ts)
		assert.Equal(t, websocket.StatusMessageTooBig, <-closed)
		disc := r.rec.first(t, EventDisconnected)
		assert.Equal(t, CauseReadError, disc.Cause)
		assert.Empty(t, r.rec.messages())
		assert.Len(t, r.rec.events(EventReady), 2, "reconnected")
	})
}

// Options.Host is the upgrade's Host header, whatever address is dialed.
func TestHostHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host := make(chan string, 1)
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			host <- r.Host
			if p := acceptRaw(t, w, r, true); p != nil {
				p.drain()
			}
		})
		r := startPlain(t, ts, quiet(Options{Host: "api.example.com:8443"}))
		assert.Equal(t, "api.example.com:8443", <-host)
		stopAndClose(t, r, ts)
	})
}
