package client

import (
	"github.com/wschaos/wschaos/internal/quirks"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/protocol"
)

// modes runs a test in session mode and in plain mode: the liveness layer
// is the same in both.
func modes(t *testing.T, test func(t *testing.T, session bool)) {
	for _, session := range []bool{true, false} {
		name := "Plain"
		if session {
			name = "Session"
		}
		t.Run(name, func(t *testing.T) { synctest.Test(t, func(t *testing.T) { test(t, session) }) })
	}
}

// idleServer accepts, welcomes in session mode, and then only reads;
// pongs says whether it answers pings.
func idleServer(t *testing.T, session, pongs bool) *testServer {
	return newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
		if !session {
			if p := acceptRaw(t, w, r, pongs); p != nil {
				p.drain()
			}
			return
		}
		p := accept(t, w, r, pongs)
		if p == nil {
			return
		}
		p.hello()
		p.welcome("s1")
		p.drain()
	})
}

// A peer that keeps TCP up but never answers pings is declared dead exactly
// PingInterval+PongTimeout after the last inbound frame (the welcome, or in
// plain mode the upgrade), with one ping sent after PingInterval.
func TestHeartbeatDetectsSilentPeer(t *testing.T) {
	modes(t, func(t *testing.T, session bool) {
		ts := idleServer(t, session, false)
		r := startAs(t, ts, Options{Session: session, PingInterval: time.Second, PongTimeout: 500 * time.Millisecond})
		time.Sleep(2 * time.Second)
		stopAndClose(t, r, ts)

		ready := r.rec.first(t, EventReady)
		ping := r.rec.first(t, EventPing)
		dead := r.rec.first(t, EventDisconnected)
		assert.Equal(t, ready.Time.Add(time.Second), ping.Time, "ping: got %v after ready, want 1s", ping.Time.Sub(ready.Time))
		assert.Equal(t, CauseHeartbeat, dead.Cause)
		assert.Equal(t, ready.Time.Add(1500*time.Millisecond), dead.Time, "detection: got %v after the last frame, want 1.5s", dead.Time.Sub(ready.Time))
		assert.Equal(t, r.c.DetectionBound(), dead.Time.Sub(ready.Time))
		assert.Len(t, r.rec.events(EventPing), 1, "pings on the first connection")
	})
}

// Data every PingInterval/2 keeps the connection alive without a single ping.
func TestHeartbeatDataKeepsAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := accept(t, w, r, false)
			if p == nil {
				return
			}
			p.hello()
			p.welcome("s1")
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for seq := uint64(1); ; {
				select {
				case _, ok := <-p.in:
					if !ok {
						_ = p.ws.CloseNow()
						return
					}
				case <-tick.C:
					p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "tick"})
					seq++
				}
			}
		})
		r := start(t, ts, Options{PingInterval: time.Second, PongTimeout: 500 * time.Millisecond})
		time.Sleep(10*time.Second + 250*time.Millisecond)
		stopAndClose(t, r, ts)

		assert.Empty(t, r.rec.events(EventPing), "pings")
		disc := r.rec.events(EventDisconnected)
		require.Len(t, disc, 1)
		assert.Equal(t, CauseStopped, disc[0].Cause)
		assert.Len(t, r.rec.messages(), 20)
	})
}

// A peer that answers pings but sends nothing else stays alive: one ping per
// PingInterval of silence.
func TestHeartbeatPongsKeepAlive(t *testing.T) {
	modes(t, func(t *testing.T, session bool) {
		ts := idleServer(t, session, true)
		r := startAs(t, ts, Options{Session: session, PingInterval: time.Second, PongTimeout: 500 * time.Millisecond})
		time.Sleep(10*time.Second + 500*time.Millisecond)
		stopAndClose(t, r, ts)

		ready := r.rec.first(t, EventReady)
		for i, p := range r.rec.events(EventPing) {
			assert.Equal(t, time.Duration(i+1)*time.Second, p.Time.Sub(ready.Time), "ping %d", i+1)
		}
		assert.Len(t, r.rec.events(EventPing), 10)
		assert.Len(t, r.rec.events(EventPong), 10)
		disc := r.rec.events(EventDisconnected)
		require.Len(t, disc, 1)
		assert.Equal(t, CauseStopped, disc[0].Cause)
	})
}

// An upstream black hole: downstream pongs keep arriving, but a sent message
// is never acknowledged, so the ack-timeout detector ends the connection.
func TestAckTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := accept(t, w, r, true)
			if p == nil {
				return
			}
			p.hello()
			p.welcome("s1")
			p.drain()
		})
		r := start(t, ts, Options{PingInterval: time.Second, PongTimeout: time.Second, AckTimeout: 2500 * time.Millisecond})
		_, err := r.c.Send(t.Context(), "into the void")
		require.NoError(t, err)
		time.Sleep(3 * time.Second)
		stopAndClose(t, r, ts)

		ready := r.rec.first(t, EventReady)
		dead := r.rec.first(t, EventDisconnected)
		assert.Equal(t, CauseAckTimeout, dead.Cause)
		assert.Equal(t, 2500*time.Millisecond, dead.Time.Sub(ready.Time))
	})
}

// With Quirks.NoHeartbeat a silent peer is never declared dead.
func TestQuirkNoHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := accept(t, w, r, false)
			if p == nil {
				return
			}
			p.hello()
			p.welcome("s1")
			p.drain()
		})
		r := start(t, ts, Options{PingInterval: time.Second, PongTimeout: 500 * time.Millisecond, quirks: quirks.Set{NoHeartbeat: true}})
		time.Sleep(time.Minute)
		stopAndClose(t, r, ts)
		assert.Empty(t, r.rec.events(EventPing))
		assert.Equal(t, []string{"dialing", "connected", "ready", "disconnected(stopped)", "stopped"}, r.rec.kinds())
	})
}

// No welcome within HandshakeTimeout of the dial ends the attempt.
func TestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := accept(t, w, r, true)
			if p == nil {
				return
			}
			p.drain()
		})
		r := start(t, ts, quiet(Options{HandshakeTimeout: 3 * time.Second}))
		time.Sleep(4 * time.Second)
		stopAndClose(t, r, ts)
		dialing := r.rec.first(t, EventDialing)
		dead := r.rec.first(t, EventDisconnected)
		assert.Equal(t, CauseHandshakeTimeout, dead.Cause)
		assert.Equal(t, 3*time.Second, dead.Time.Sub(dialing.Time))
	})
}

// An upgrade that never gets an HTTP answer (TCP accepted) is cut at
// HandshakeTimeout too.
func TestHandshakeTimeoutUpgradeStalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			<-release
		})
		r := start(t, ts, quiet(Options{HandshakeTimeout: 2 * time.Second}))
		time.Sleep(2*time.Second + 50*time.Millisecond)
		close(release)
		stopAndClose(t, r, ts)
		dialing := r.rec.first(t, EventDialing)
		dead := r.rec.first(t, EventDisconnected)
		assert.Equal(t, CauseHandshakeTimeout, dead.Cause)
		assert.Equal(t, 2*time.Second, dead.Time.Sub(dialing.Time))
	})
}

// Teardown under a peer that reads nothing (the close frame cannot even be
// written) takes exactly CloseGrace.
func TestTeardownDeadPeerBoundedByCloseGrace(t *testing.T) {
	for _, grace := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run((grace).String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
					ws, err := websocket.Accept(w, r, nil)
					if err != nil {
						t.Errorf("accept: %v", err)
						return
					}
					defer ws.CloseNow()
					if _, _, err := ws.Read(t.Context()); err != nil {
						t.Errorf("read hello: %v", err)
						return
					}
					_ = ws.Write(t.Context(), websocket.MessageText, mustEncode(t, protocol.Envelope{Type: protocol.TypeWelcome, Session: "s1"}))
					<-release // dead: reads nothing, answers nothing
				})
				r := start(t, ts, quiet(Options{CloseGrace: grace}))
				time.Sleep(time.Second)
				require.Equal(t, StateReady, r.c.State())
				begin := time.Now()
				r.cancel()
				<-r.done
				want := grace
				if want == 0 {
					want = 250 * time.Millisecond
				}
				assert.Equal(t, want, time.Since(begin))
				assert.Equal(t, StateStopped, r.c.State())
				close(release)
				ts.close()
			})
		})
	}
}

// quirks.WaitForDeadPeer leaves the bound to coder/websocket: seconds.
func TestQuirkWaitForDeadPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				t.Errorf("accept: %v", err)
				return
			}
			defer ws.CloseNow()
			if _, _, err := ws.Read(t.Context()); err != nil {
				return
			}
			_ = ws.Write(t.Context(), websocket.MessageText, mustEncode(t, protocol.Envelope{Type: protocol.TypeWelcome, Session: "s1"}))
			<-release
		})
		r := start(t, ts, quiet(Options{quirks: quirks.Set{WaitForDeadPeer: true}}))
		time.Sleep(time.Second)
		begin := time.Now()
		r.cancel()
		<-r.done
		assert.GreaterOrEqual(t, time.Since(begin), 5*time.Second)
		close(release)
		ts.close()
	})
}

func mustEncode(t *testing.T, e protocol.Envelope) []byte {
	b, err := protocol.Encode(e)
	if err != nil {
		t.Errorf("encode: %v", err)
	}
	return b
}
