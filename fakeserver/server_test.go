package fakeserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/internal/memnet"
	"github.com/wschaos/wschaos/protocol"
	"github.com/wschaos/wschaos/result"
)

func TestHelloWelcomeAndPush(t *testing.T) {
	s, ev := newServer(t, Options{PushInterval: 2 * time.Millisecond})
	ctx := testCtx(t)
	c := dial(t, ctx, s)

	w := hello(t, ctx, c, "c1", "", 0)
	assert.False(t, w.Resumed)
	assert.Equal(t, "c1", w.ClientID)
	assert.True(t, strings.HasPrefix(w.Session, "s-"), "got session %q, want s-<hex>", w.Session)
	assert.Equal(t, uint64(1), w.FromSeq)

	for want := uint64(1); want <= 20; want++ {
		m := recv(t, ctx, c)
		require.Equal(t, protocol.TypeMsg, m.Type)
		require.Equal(t, want, m.Seq, "got seq %d, want %d", m.Seq, want)
		require.Equal(t, "s"+itoa(want), m.Body)
	}
	ev.waitKind(t, result.KindSessionNew)
	send, _ := ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindSend && e.Seq == 20 })
	assert.Equal(t, "c1", send.ClientID)
	assert.Equal(t, w.Session, send.Session)
	assert.Equal(t, 1, s.LiveConns())
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestEchoAndRaw(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)

	// Raw clients need no hello.
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("plain text")))
	typ, b, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.MessageText, typ)
	assert.Equal(t, "plain text", string(b))
	ev.waitKind(t, result.KindRaw)

	send(t, ctx, c, protocol.Envelope{Type: protocol.TypeEcho, ID: 7, Body: "ping"})
	e := recv(t, ctx, c)
	assert.Equal(t, protocol.Envelope{Type: protocol.TypeEcho, ID: 7, Body: "ping"}, e)
	ev.waitKind(t, result.KindEcho)

	hello(t, ctx, c, "c1", "", 0)
	send(t, ctx, c, protocol.Envelope{Type: protocol.TypeEcho, ID: 8})
	assert.Equal(t, uint64(8), recv(t, ctx, c).ID)
}

func TestResume(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	push(s, 3)
	for want := uint64(1); want <= 3; want++ {
		require.Equal(t, want, recv(t, ctx, c).Seq)
	}
	send(t, ctx, c, protocol.Envelope{Type: protocol.TypeMsg, Seq: 1, Body: "up 1"})
	require.Equal(t, protocol.Envelope{Type: protocol.TypeAck, Seq: 1}, recvType(t, ctx, c, protocol.TypeAck))
	closeClient(t, c, ev, 0)

	push(s, 5) // s4..s8 pile up while the client is away

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 3)
	assert.True(t, w2.Resumed)
	assert.Equal(t, w.Session, w2.Session)
	assert.Equal(t, uint64(4), w2.FromSeq)
	assert.Equal(t, uint64(0), w2.Gap)
	assert.Equal(t, uint64(1), w2.Ack)
	for want := uint64(4); want <= 8; want++ {
		require.Equal(t, want, recv(t, ctx, c2).Seq)
	}
	push(s, 1)
	require.Equal(t, uint64(9), recv(t, ctx, c2).Seq)
	wel, _ := ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindWelcome && e.Conn == 2 })
	assert.True(t, wel.Resumed)
}

func TestResumeGap(t *testing.T) {
	s, ev := newServer(t, Options{ResumeMessages: 3})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	push(s, 2)
	require.Equal(t, uint64(1), recv(t, ctx, c).Seq)
	require.Equal(t, uint64(2), recv(t, ctx, c).Seq)
	closeClient(t, c, ev, 0)

	push(s, 10) // s3..s12; the ring keeps s10..s12

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 2)
	assert.True(t, w2.Resumed)
	assert.Equal(t, uint64(10), w2.FromSeq)
	assert.Equal(t, uint64(7), w2.Gap, "got gap %d, want 7 (s3..s9)", w2.Gap)
	for want := uint64(10); want <= 12; want++ {
		require.Equal(t, want, recv(t, ctx, c2).Seq)
	}
}

func TestForgetSessions(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	push(s, 2)
	closeClient(t, c, ev, 0)

	s.ForgetSessions()
	ev.waitKind(t, result.KindSessionsForgotten)

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 2)
	assert.False(t, w2.Resumed)
	assert.NotEqual(t, w.Session, w2.Session)
	assert.Equal(t, uint64(1), w2.FromSeq)
	assert.Equal(t, uint64(0), w2.Ack)
}

func TestSessionExpiredReportsGap(t *testing.T) {
	s, ev := newServer(t, Options{ResumeWindow: 20 * time.Millisecond})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	// Push all five while connected (the window only starts when the
	// connection ends), read one: s2..s5 are lost with the session.
	push(s, 5)
	require.Equal(t, uint64(1), recv(t, ctx, c).Seq)
	closeClient(t, c, ev, 0)

	exp := ev.waitKind(t, result.KindSessionExpired)
	assert.Equal(t, w.Session, exp.Session)
	assert.Equal(t, uint64(5), exp.Seq)

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 1)
	assert.False(t, w2.Resumed)
	assert.NotEqual(t, w.Session, w2.Session)
	assert.Equal(t, uint64(6), w2.FromSeq)
	assert.Equal(t, uint64(4), w2.Gap, "got gap %d, want 4 (s2..s5)", w2.Gap)
	push(s, 1)
	require.Equal(t, uint64(6), recv(t, ctx, c2).Seq)
}

// Client messages are delivered once each: a repeat is a duplicate; one
// that arrives after a later one fills its hole (reordered, not lost); the
// cumulative ack covers only the run delivered without a hole.
func TestDedupAndReorder(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	hello(t, ctx, c, "c1", "", 0)

	msg := func(seq uint64) protocol.Envelope {
		return protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "m" + itoa(seq)}
	}
	send(t, ctx, c, msg(1))
	assert.Equal(t, uint64(1), recvType(t, ctx, c, protocol.TypeAck).Seq)
	send(t, ctx, c, msg(1)) // resent: a duplicate
	assert.Equal(t, uint64(1), recvType(t, ctx, c, protocol.TypeAck).Seq)
	send(t, ctx, c, msg(3)) // ahead of 2
	assert.Equal(t, uint64(1), recvType(t, ctx, c, protocol.TypeAck).Seq, "3 is held until 2 arrives")
	send(t, ctx, c, msg(2)) // late: fills the hole
	assert.Equal(t, uint64(3), recvType(t, ctx, c, protocol.TypeAck).Seq)
	send(t, ctx, c, msg(3)) // resent after all: a duplicate
	assert.Equal(t, uint64(3), recvType(t, ctx, c, protocol.TypeAck).Seq)

	var got []uint64
	for _, e := range ev.list() {
		if e.Kind == result.KindRecv {
			got = append(got, e.Seq)
		}
	}
	assert.Equal(t, []uint64{1, 3, 2}, got, "every message delivered once, in arrival order")
	assert.Equal(t, 2, ev.count(result.KindDup))
	ahead, _ := ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindRecv && e.Seq == 3 })
	assert.Contains(t, ahead.Text, "ahead")
	late, _ := ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindRecv && e.Seq == 2 })
	assert.Contains(t, late.Text, "late")
}

func TestReplaced(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c1 := dial(t, ctx, s)
	w := hello(t, ctx, c1, "c1", "", 0)
	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 0)
	assert.True(t, w2.Resumed)

	_, _, err := c1.Read(ctx)
	assert.Equal(t, StatusReplaced, websocket.CloseStatus(err), "got %v, want close 4440", err)
	ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindServerClosed && e.Conn == 1 })
	// The session stays with the new connection.
	push(s, 1)
	assert.Equal(t, uint64(1), recv(t, ctx, c2).Seq)
}

// TestStaleHelloReplacesNothing: a hello that arrives late on a connection
// older than the one the client already holds (a handshake it gave up on
// while the server was busy) must not take the session from the newer one.
func TestStaleHelloReplacesNothing(t *testing.T) {
	s, _ := newServer(t, Options{})
	ctx := testCtx(t)
	old := dial(t, ctx, s) // upgraded, so accepted, before the next dial
	newer := dial(t, ctx, s)
	w := hello(t, ctx, newer, "c1", "", 0)
	send(t, ctx, old, protocol.Envelope{Type: protocol.TypeHello, ClientID: "c1", Session: w.Session})
	_, _, err := old.Read(ctx)
	assert.Equal(t, StatusReplaced, websocket.CloseStatus(err), "the stale connection is the one closed: got %v", err)
	push(s, 1)
	assert.Equal(t, uint64(1), recv(t, ctx, newer).Seq, "the newer connection keeps the session")
}

func TestCloseAll(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	hello(t, ctx, c, "c1", "", 0)

	start := time.Now()
	assert.Equal(t, 1, s.CloseAll(4001, "go away"))
	assert.Less(t, time.Since(start), time.Second, "CloseAll must not wait for the handshake")
	_, _, err := c.Read(ctx)
	var ce websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.StatusCode(4001), ce.Code)
	assert.Equal(t, "go away", ce.Reason)

	sent := ev.waitKind(t, result.KindCloseSent)
	assert.EqualValues(t, 4001, sent.Code)
	closed := ev.waitKind(t, result.KindServerClosed)
	assert.EqualValues(t, 4001, closed.Code)
}

func TestDropAll(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	hello(t, ctx, c, "c1", "", 0)

	assert.Equal(t, 1, s.DropAll())
	_, _, err := c.Read(ctx)
	require.Error(t, err)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "got %v, want no close frame", err)
	ev.waitKind(t, result.KindDrop)
	closed := ev.waitKind(t, result.KindServerClosed)
	assert.EqualValues(t, websocket.StatusAbnormalClosure, closed.Code)
}

func TestDropMidFrame(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	push(s, 1)
	require.Equal(t, uint64(1), recv(t, ctx, c).Seq)

	assert.Equal(t, 1, s.DropMidFrame())
	typ, b, err := c.Read(ctx)
	require.Error(t, err, "got message %v %q, want a read error", typ, b)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err))
	drop := ev.waitKind(t, result.KindDrop)
	assert.Contains(t, drop.Text, "mid-frame")
	ev.waitKind(t, result.KindServerClosed)

	// The cut message was not counted as sent: a resume replays it.
	push(s, 1)
	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 1)
	assert.Equal(t, uint64(2), w2.FromSeq)
	assert.Equal(t, uint64(2), recv(t, ctx, c2).Seq)
}

func TestMutePongs(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	readCtx := c.CloseRead(ctx) // pongs are processed by a reader

	require.NoError(t, c.Ping(ctx))
	s.SetMutePongs(true)
	pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := c.Ping(pctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	ev.waitKind(t, result.KindPongWithheld)
	assert.NoError(t, readCtx.Err(), "the connection must stay up")

	s.SetMutePongs(false)
	assert.NoError(t, c.Ping(ctx))
}

func TestReject(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	s.SetReject(http.StatusTooManyRequests, "2")
	_, resp, err := websocket.Dial(ctx, s.URL(), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	rej := ev.waitKind(t, result.KindReject)
	assert.Equal(t, http.StatusTooManyRequests, rej.Status)

	s.SetReject(0, "")
	dial(t, ctx, s)
}

func TestNotFound(t *testing.T) {
	s, _ := newServer(t, Options{})
	ctx := testCtx(t)
	_, resp, err := websocket.Dial(ctx, "ws://"+s.Addr()+"/other", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestNotAnUpgrade(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr()+"/ws", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	rej := ev.waitKind(t, result.KindReject)
	assert.Equal(t, http.StatusUpgradeRequired, rej.Status)
	http.DefaultClient.CloseIdleConnections()
}

func TestStall(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	s.SetStall(true)
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, _, err := websocket.Dial(dctx, s.URL(), nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	ev.waitKind(t, result.KindStall)

	s.SetStall(false)
	dial(t, ctx, s)
}

func TestStallReleasedClosesHeldConnection(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	s.SetStall(true)
	errc := make(chan error, 1)
	go func() {
		_, _, err := websocket.Dial(ctx, s.URL(), nil)
		errc <- err
	}()
	ev.waitKind(t, result.KindStall)
	s.SetStall(false)
	select {
	case err := <-errc:
		assert.Error(t, err)
	case <-ctx.Done():
		t.Fatal("dial still blocked after SetStall(false)")
	}
}

func TestStopStart(t *testing.T) {
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	addr := s.Addr()
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)

	require.NoError(t, s.Stop())
	assert.Equal(t, 0, s.LiveConns())
	_, _, err := c.Read(ctx)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "got %v, want an abrupt close", err)
	_, _, err = websocket.Dial(ctx, s.URL(), nil)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	ev.waitKind(t, result.KindListenerStop)

	require.NoError(t, s.Start())
	assert.ErrorIs(t, s.Start(), ErrListening)
	assert.Equal(t, addr, s.Addr())
	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 0)
	assert.True(t, w2.Resumed, "sessions survive Stop")
}

// TestStopStartOnAGivenListener: with Options.Listen the server serves the
// listeners it is given (here an in-process network, as the stress chain
// runs it), and Stop and Start act on them as on TCP.
func TestStopStartOnAGivenListener(t *testing.T) {
	mn := memnet.New("mem-server")
	s, _ := newServer(t, Options{Listen: mn.Listen})
	ctx := testCtx(t)
	assert.Equal(t, "mem-server", s.Addr())
	opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return mn.Dial(ctx) },
	}}}
	dialMem := func() (*websocket.Conn, error) {
		c, resp, err := websocket.Dial(ctx, s.URL(), opts)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if c != nil {
			t.Cleanup(func() { _ = c.CloseNow() })
		}
		return c, err
	}
	c, err := dialMem()
	require.NoError(t, err)
	w := hello(t, ctx, c, "c1", "", 0)

	require.NoError(t, s.Stop())
	_, _, err = c.Read(ctx)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "got %v, want an abrupt close", err)
	_, err = dialMem()
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)

	require.NoError(t, s.Start())
	c2, err := dialMem()
	require.NoError(t, err)
	w2 := hello(t, ctx, c2, "c1", w.Session, 0)
	assert.True(t, w2.Resumed, "sessions survive Stop")

	_, err = New(Options{Listen: func() (net.Listener, error) { return nil, memnet.ErrListening }})
	assert.ErrorIs(t, err, memnet.ErrListening, "a listener that cannot be made fails New")
}

func TestMaxConnections(t *testing.T) {
	s, ev := newServer(t, Options{MaxConnections: 1})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	_, resp, err := websocket.Dial(ctx, s.URL(), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	ev.waitKind(t, result.KindReject)

	closeClient(t, c, ev, 0)
	dial(t, ctx, s)
}

func TestSetMaxConnections(t *testing.T) {
	s, _ := newServer(t, Options{})
	ctx := testCtx(t)
	dial(t, ctx, s)
	s.SetMaxConnections(1)
	_, resp, err := websocket.Dial(ctx, s.URL(), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	s.SetMaxConnections(0)
	dial(t, ctx, s)
}

func TestHostileFrames(t *testing.T) {
	tests := []struct {
		name string
		typ  websocket.MessageType
		data []byte
		want websocket.StatusCode
	}{
		{"MalformedJSON", websocket.MessageText, []byte(`{"type":`), websocket.StatusPolicyViolation},
		{"UnknownType", websocket.MessageText, []byte(`{"type":"nope"}`), websocket.StatusPolicyViolation},
		{"InvalidUTF8Envelope", websocket.MessageText, []byte("{\"type\":\"echo\",\"body\":\"\xff\"}"), websocket.StatusInvalidFramePayloadData},
		{"InvalidUTF8Raw", websocket.MessageText, []byte("plain \xc3\x28 text"), websocket.StatusInvalidFramePayloadData},
		{"MsgBeforeHello", websocket.MessageText, []byte(`{"type":"msg","seq":1}`), websocket.StatusPolicyViolation},
		{"Welcome", websocket.MessageText, []byte(`{"type":"welcome","session":"x"}`), websocket.StatusPolicyViolation},
		{"Binary", websocket.MessageBinary, []byte{1, 2, 3}, websocket.StatusUnsupportedData},
		{"Huge", websocket.MessageText, bytes.Repeat([]byte("x"), protocol.MaxFrameSize+1), websocket.StatusMessageTooBig},
	}
	s, ev := newServer(t, Options{})
	ctx := testCtx(t)
	good := dial(t, ctx, s)
	hello(t, ctx, good, "good", "", 0)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ctx, s)
			// The write may fail once the server has closed.
			_ = c.Write(ctx, tt.typ, tt.data)
			_, _, err := c.Read(ctx)
			assert.Equal(t, tt.want, websocket.CloseStatus(err), "got %v", err)

			send(t, ctx, good, protocol.Envelope{Type: protocol.TypeEcho, ID: uint64(i + 1)})
			assert.Equal(t, uint64(i+1), recv(t, ctx, good).ID, "the server must keep serving others")
		})
	}
	for _, want := range []result.CloseCode{result.CloseCode(websocket.StatusPolicyViolation), result.CloseCode(websocket.StatusInvalidFramePayloadData), result.CloseCode(websocket.StatusUnsupportedData), result.CloseCode(websocket.StatusMessageTooBig)} {
		ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindBadFrame && e.Code == want })
	}
}

func TestTLS(t *testing.T) {
	s, _ := newServer(t, Options{TLS: true})
	assert.True(t, strings.HasPrefix(s.URL(), "wss://"), "got %s", s.URL())
	require.NotNil(t, s.CertPool())
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	push(s, 1)
	assert.Equal(t, uint64(1), recv(t, ctx, c).Seq)

	// Abrupt faults work under TLS too.
	assert.Equal(t, 1, s.DropMidFrame())
	_, _, err := c.Read(ctx)
	require.Error(t, err)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err))

	c2 := dial(t, ctx, s)
	assert.True(t, hello(t, ctx, c2, "c1", w.Session, 1).Resumed)

	// An untrusting client fails the handshake.
	_, _, err = websocket.Dial(ctx, s.URL(), nil)
	assert.Error(t, err)
}

// CertPEM is the certificate CertPool trusts, in the form other processes
// read; without TLS there is none.
func TestCertPEM(t *testing.T) {
	plain, _ := newServer(t, Options{})
	assert.Nil(t, plain.CertPEM())

	s, _ := newServer(t, Options{TLS: true})
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(s.CertPEM()), "got %q, want a PEM certificate", s.CertPEM())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	ctx := testCtx(t)
	c, _, err := websocket.Dial(ctx, s.URL(), &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	require.NoError(t, err, "a client trusting only CertPEM must complete the handshake")
	c.CloseNow()
}

func TestSetPush(t *testing.T) {
	s, _ := newServer(t, Options{})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	hello(t, ctx, c, "c1", "", 0)
	s.SetPush(time.Millisecond)
	for want := uint64(1); want <= 5; want++ {
		require.Equal(t, want, recv(t, ctx, c).Seq)
	}
	s.SetPush(0)
}

func TestHelloTimeout(t *testing.T) {
	s, _ := newServer(t, Options{HelloTimeout: 20 * time.Millisecond})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	_, _, err := c.Read(ctx)
	assert.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "got %v", err)
}

func TestBadOptions(t *testing.T) {
	for _, opts := range []Options{
		{PushInterval: -1},
		{ResumeWindow: -1},
		{ResumeMessages: -1},
		{MaxConnections: -1},
		{LimitRetryAfter: -1},
		{HelloTimeout: -1},
		{HandshakeTimeout: -1},
		{MaxTCPConns: -1},
	} {
		_, err := New(opts)
		assert.ErrorIs(t, err, ErrBadOptions, "%+v", opts)
	}
	_, err := New(Options{Addr: "256.0.0.1:0"})
	assert.Error(t, err)
}

func TestCloseIsIdempotentAndEndsStart(t *testing.T) {
	s, err := New(Options{PushInterval: time.Millisecond})
	require.NoError(t, err)
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	hello(t, ctx, c, "c1", "", 0)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.True(t, errors.Is(s.Start(), ErrClosed))
	assert.Equal(t, 0, s.CloseAll(websocket.StatusGoingAway, ""))
}

func TestResumeWithLivePush(t *testing.T) {
	s, ev := newServer(t, Options{PushInterval: time.Millisecond})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	for want := uint64(1); want <= 3; want++ {
		require.Equal(t, want, recv(t, ctx, c).Seq)
	}
	closeClient(t, c, ev, 0)

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 3)
	require.True(t, w2.Resumed)
	require.Equal(t, uint64(4), w2.FromSeq)
	require.Equal(t, uint64(0), w2.Gap)
	for want := uint64(4); want <= 30; want++ {
		require.Equal(t, want, recv(t, ctx, c2).Seq)
	}
}

// TestConcurrentControls runs clients while every control fires
// concurrently, for the race detector and to show nothing deadlocks.
func TestConcurrentControls(t *testing.T) {
	s, _ := newServer(t, Options{PushInterval: time.Millisecond, MaxConnections: 8, ResumeMessages: 16})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			id := "c" + strconv.Itoa(i)
			var session string
			var last uint64
			for ctx.Err() == nil {
				// http.Transport dials in a goroutine of its own that
				// outlives a cancelled request; dial with a context the
				// end of the test does not cancel, so no dial is left in
				// flight when the leak check runs.
				dctx, dcancel := context.WithTimeout(t.Context(), 5*time.Second)
				c, _, err := websocket.Dial(dctx, s.URL(), nil)
				dcancel()
				if err != nil {
					continue
				}
				b, _ := protocol.Encode(protocol.Envelope{Type: protocol.TypeHello, ClientID: id, Session: session, LastSeq: last})
				_ = c.Write(ctx, websocket.MessageText, b)
				for n := 0; ; n++ {
					_, data, err := c.Read(ctx)
					if err != nil {
						break
					}
					e, err := protocol.Decode(data)
					if err != nil {
						t.Errorf("got undecodable %q: %v", data, err)
						break
					}
					switch e.Type {
					case protocol.TypeWelcome:
						session = e.Session
					case protocol.TypeMsg:
						last = e.Seq
						b, _ := protocol.Encode(protocol.Envelope{Type: protocol.TypeMsg, Seq: uint64(n + 1)})
						_ = c.Write(ctx, websocket.MessageText, b)
					}
				}
				_ = c.CloseNow()
			}
		})
	}
	controls := []func(){
		func() { s.CloseAll(websocket.StatusGoingAway, "restart") },
		func() { s.DropAll() },
		func() { s.DropMidFrame() },
		func() { s.SetMutePongs(true); s.SetMutePongs(false) },
		func() { s.SetReject(http.StatusServiceUnavailable, "1"); s.SetReject(0, "") },
		func() { s.SetStall(true); s.SetStall(false) },
		func() { _ = s.Stop(); _ = s.Start() },
		func() { s.ForgetSessions() },
		func() { s.SetPush(2 * time.Millisecond) },
		func() { _ = s.LiveConns() },
	}
	for i := 0; ctx.Err() == nil; i++ {
		controls[i%len(controls)]()
	}
	wg.Wait()
}

// With ReplayOverlap the server delivers at least once: a resume goes back
// over messages the client already had, while the welcome still says where
// the new ones start.
func TestResumeReplayOverlap(t *testing.T) {
	s, ev := newServer(t, Options{ReplayOverlap: 2})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	push(s, 4)
	for want := uint64(1); want <= 4; want++ {
		require.Equal(t, want, recv(t, ctx, c).Seq)
	}
	closeClient(t, c, ev, 0)
	push(s, 1)

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 4)
	assert.True(t, w2.Resumed)
	assert.Equal(t, uint64(5), w2.FromSeq)
	for _, want := range []uint64{3, 4, 5} {
		require.Equal(t, want, recv(t, ctx, c2).Seq, "two old messages again, then the new one")
	}
}

func TestReplayOverlapRejectsNegative(t *testing.T) {
	_, err := New(Options{ReplayOverlap: -1})
	require.ErrorIs(t, err, ErrBadOptions)
}

// Once SetPush(0) returns, nothing more is produced: LastSeq is final, so a
// caller can wait for a client to have everything.
func TestSetPushZeroIsFinal(t *testing.T) {
	s, _ := newServer(t, Options{PushInterval: time.Millisecond})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	hello(t, ctx, c, "c1", "", 0)
	var seen uint64
	for seen < 5 {
		seen = recv(t, ctx, c).Seq
	}
	s.SetPush(0)
	last := s.LastSeq("c1")
	require.GreaterOrEqual(t, last, seen)
	for seen < last {
		seen = recv(t, ctx, c).Seq
		require.LessOrEqual(t, seen, last, "a message produced after SetPush(0) returned")
	}
	// Ten would-be ticks later there is still nothing new.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, _, err := c.Read(pctx)
	require.Error(t, err, "got a message after the last one")
	assert.Equal(t, last, s.LastSeq("c1"))
	assert.Zero(t, s.LastSeq("nobody"))
}

// The race that made a message arrive twice at production timings: the
// client's message reaches the server, its ack is lost with the link, the
// outage outlives the resume window, and the client resends it into the new
// session. The new session goes on deduplicating where the old one stopped,
// and its welcome acknowledges what was delivered, so the resend is a
// duplicate and never a second delivery.
func TestNoDuplicateAcrossExpiredSession(t *testing.T) {
	s, ev := newServer(t, Options{ResumeWindow: 20 * time.Millisecond})
	ctx := testCtx(t)
	c := dial(t, ctx, s)
	w := hello(t, ctx, c, "c1", "", 0)
	for seq := uint64(1); seq <= 3; seq++ {
		send(t, ctx, c, protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "m"})
	}
	ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindRecv && e.Seq == 3 })
	// The link dies before the client reads any ack.
	s.DropAll()
	ev.waitKind(t, result.KindSessionExpired)

	c2 := dial(t, ctx, s)
	w2 := hello(t, ctx, c2, "c1", w.Session, 0)
	assert.False(t, w2.Resumed, "the session expired")
	assert.Equal(t, uint64(3), w2.Ack, "the welcome settles what was delivered")
	send(t, ctx, c2, protocol.Envelope{Type: protocol.TypeMsg, Seq: 3, Body: "m"}) // the resend
	send(t, ctx, c2, protocol.Envelope{Type: protocol.TypeMsg, Seq: 4, Body: "m"})
	ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindRecv && e.Seq == 4 })
	delivered := map[uint64]int{}
	for _, e := range ev.list() {
		if e.Kind == result.KindRecv {
			delivered[e.Seq]++
		}
	}
	assert.Equal(t, map[uint64]int{1: 1, 2: 1, 3: 1, 4: 1}, delivered, "each message delivered exactly once")
	assert.Equal(t, 1, ev.count(result.KindDup))
}

// A close the server starts comes after the ack of everything it delivered:
// a client that reads until the close knows exactly what arrived.
func TestCloseAfterAck(t *testing.T) {
	for i := range 20 { // the ack and the close once raced: repeat to show they no longer do
		t.Run(itoa(uint64(i)), func(t *testing.T) {
			s, ev := newServer(t, Options{})
			ctx := testCtx(t)
			c := dial(t, ctx, s)
			hello(t, ctx, c, "c1", "", 0)
			send(t, ctx, c, protocol.Envelope{Type: protocol.TypeMsg, Seq: 1, Body: "m"})
			ev.waitFor(t, 0, func(e Event) bool { return e.Kind == result.KindRecv && e.Seq == 1 })
			s.CloseAll(4401, "logged out")
			var acked uint64
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					assert.Equal(t, websocket.StatusCode(4401), websocket.CloseStatus(err), "got %v", err)
					break
				}
				if e, err := protocol.Decode(b); err == nil && e.Type == protocol.TypeAck {
					acked = e.Seq
				}
			}
			assert.Equal(t, uint64(1), acked, "the ack of message 1 came before the close frame")
		})
	}
}
