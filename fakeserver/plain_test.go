package fakeserver

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/protocol"
	"github.com/wschaos/wschaos/result"
)

// dialPath dials s at path and closes the connection when the test ends.
func dialPath(t *testing.T, s *Server, path string) *websocket.Conn {
	t.Helper()
	var opts *websocket.DialOptions
	if pool := s.CertPool(); pool != nil {
		opts = &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}}}
	}
	scheme := "ws"
	if s.CertPool() != nil {
		scheme = "wss"
	}
	c, resp, err := websocket.Dial(testCtx(t), scheme+"://"+s.Addr()+path, opts)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	typ, b, err := c.Read(testCtx(t))
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	return string(b)
}

// A client that only completes the upgrade (no hello) gets raw pushes
// "p1", "p2", ... at the push interval, named by its URL path; its echo of
// a push is recorded with the push's number and not echoed back, while
// other text is; pings are answered.
func TestPlainClientGetsRawPushes(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[tlsOn], func(t *testing.T) {
			s, ev := newServer(t, Options{TLS: tlsOn, PushInterval: 20 * time.Millisecond, PlainAfter: 50 * time.Millisecond})
			c := dialPath(t, s, "/ws/c7")
			acc := ev.waitKind(t, result.KindAccept)
			assert.Equal(t, "c7", acc.ClientID, "the path names the client")
			plain := ev.waitKind(t, result.KindPlain)
			assert.Equal(t, acc.Conn, plain.Conn)
			assert.Equal(t, "c7", plain.ClientID)

			assert.Equal(t, "p0000000001", readText(t, c))
			assert.Equal(t, "p0000000002", readText(t, c))
			pushed, _ := ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindPush && e.Seq == 2 })
			assert.Equal(t, "c7", pushed.ClientID)

			ctx := testCtx(t)
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("p0000000002")))
			echo, _ := ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindRaw })
			assert.Equal(t, uint64(2), echo.Seq, "the echo of push 2")
			assert.Equal(t, "c7", echo.ClientID)

			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("p0000999999")))
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("hi")))
			var others []string
			for got := readText(t, c); got != "hi"; got = readText(t, c) {
				if got == "p0000999999" || !assert.Regexp(t, `^p\d{10}$`, got) {
					others = append(others, got)
				}
			}
			assert.Equal(t, []string{"p0000999999"}, others, "a push never sent is ordinary text: echoed")
			c.CloseRead(ctx) // reads on, so the pong is seen
			require.NoError(t, c.Ping(ctx), "pings are answered")
			s.SetPush(0)
		})
	}
}

// A client that says hello gets the session protocol exactly as without
// PlainAfter: no raw text, ever.
func TestSessionClientGetsNoRawPushes(t *testing.T) {
	s, ev := newServer(t, Options{PushInterval: 10 * time.Millisecond, PlainAfter: 100 * time.Millisecond})
	ctx := testCtx(t)
	c := dialPath(t, s, "/ws/c1")
	w := hello(t, ctx, c, "c1", "", 0)
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		e := recv(t, ctx, c) // fails on anything that is not an envelope
		assert.Equal(t, protocol.TypeMsg, e.Type)
	}
	assert.Zero(t, ev.count(result.KindPlain))
	assert.Zero(t, ev.count(result.KindPush))
	assert.NotEmpty(t, w.Session)
}

// Without PlainAfter a connection that never says hello gets nothing but
// its echoes, as before.
func TestNoRawPushesByDefault(t *testing.T) {
	s, ev := newServer(t, Options{PushInterval: 5 * time.Millisecond})
	c := dialPath(t, s, "/ws")
	ev.waitKind(t, result.KindAccept)
	ctx := testCtx(t)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("hi")))
	assert.Equal(t, "hi", readText(t, c))
	assert.Zero(t, ev.count(result.KindPush))
	assert.Zero(t, ev.count(result.KindPlain))
}

// Refusals and stalls name the client of the path too, so that an outside
// client's refused dials are its own.
func TestClientPathOnRefusals(t *testing.T) {
	s, ev := newServer(t, Options{})
	s.SetReject(401, "")
	_, resp, err := websocket.Dial(testCtx(t), "ws://"+s.Addr()+"/ws/c3", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, 401, resp.StatusCode)
	rej := ev.waitKind(t, result.KindReject)
	assert.Equal(t, "c3", rej.ClientID)
}

func TestClientPath(t *testing.T) {
	for path, want := range map[string]string{"/ws": "", "/ws/c1": "c1", "/ws/a-b_c.9": "a-b_c.9"} {
		id, ok := clientPath(path)
		assert.True(t, ok, path)
		assert.Equal(t, want, id, path)
	}
	for _, path := range []string{"/", "/ws/", "/wsx", "/ws/a/b", "/ws/a%20b", "/ws/é", "/ws/" + string(make([]byte, 200))} {
		_, ok := clientPath(path)
		assert.False(t, ok, "%q", path)
	}
}

func TestPlainAfterNegative(t *testing.T) {
	_, err := New(Options{PlainAfter: -time.Second})
	require.ErrorIs(t, err, ErrBadOptions)
	assert.Contains(t, err.Error(), "PlainAfter")
}
