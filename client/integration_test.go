package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/protocol"
)

// Over real TLS on loopback: the transport capture works for wss, and a
// message goes out and is acknowledged.
func TestWSSLoopback(t *testing.T) {
	acked := make(chan uint64, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			_, b, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			e, err := protocol.Decode(b)
			if err != nil {
				return
			}
			var reply protocol.Envelope
			switch e.Type {
			case protocol.TypeHello:
				reply = protocol.Envelope{Type: protocol.TypeWelcome, Session: "s1"}
			case protocol.TypeMsg:
				reply = protocol.Envelope{Type: protocol.TypeAck, Seq: e.Seq}
				acked <- e.Seq
			default:
				continue
			}
			out, _ := protocol.Encode(reply)
			if ws.Write(r.Context(), websocket.MessageText, out) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	c, err := New("wss"+strings.TrimPrefix(srv.URL, "https"), Options{Session: true, TLSConfig: tlsConfig})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	seq, err := c.Send(ctx, "over tls")
	require.NoError(t, err)
	select {
	case got := <-acked:
		assert.Equal(t, seq, got)
	case <-ctx.Done():
		t.Fatal("no msg reached the server")
	}
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// A connection that dies without a close frame is a read error, code 1006,
// detected at once; garbage from the server is a protocol error.
func TestReadErrorAndProtocolError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
			p := accept(t, w, r, true)
			if p == nil {
				return
			}
			p.hello()
			p.welcome("s1")
			switch n {
			case 1:
				time.Sleep(time.Second)
				_ = p.ws.CloseNow() // TCP gone, no close frame
			case 2:
				_ = p.ws.Write(t.Context(), websocket.MessageText, []byte(`{"type":"bogus"}`))
				p.drain()
			default:
				p.drain()
			}
		})
		r := start(t, ts, quiet(Options{}))
		time.Sleep(5 * time.Second)
		stopAndClose(t, r, ts)
		disc := r.rec.events(EventDisconnected)
		require.Len(t, disc, 3)
		ready := r.rec.first(t, EventReady)
		assert.Equal(t, CauseReadError, disc[0].Cause)
		assert.EqualValues(t, 1006, disc[0].Code)
		assert.Equal(t, time.Second, disc[0].Time.Sub(ready.Time), "detected at once")
		assert.Equal(t, CauseProtocolError, disc[1].Cause)
		assert.Equal(t, CauseStopped, disc[2].Cause)
	})
}
