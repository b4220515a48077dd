package fakeserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

// rawConn dials s without speaking and closes the connection when the test
// ends.
func rawConn(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(testTimeout)))
	return c
}

// waitTCP waits until the server holds n TCP connections.
func waitTCP(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		s.mu.Lock()
		got := len(s.tcp)
		s.mu.Unlock()
		if got == n {
			return
		}
		require.True(t, time.Now().Before(deadline), "server holds %d TCP connections, want %d", got, n)
		time.Sleep(time.Millisecond)
	}
}

func TestMaxTCPConnsSheds(t *testing.T) {
	s, ev := newServer(t, Options{MaxTCPConns: 2})
	held := rawConn(t, s)
	rawConn(t, s)
	waitTCP(t, s, 2)

	over := rawConn(t, s)
	_, err := io.WriteString(over, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the 503 ends with a FIN, not a reset")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.True(t, resp.Close)
	assert.Contains(t, string(body), "limit of 2 connections")
	shed := ev.waitKind(t, result.KindShed)
	assert.Equal(t, uint64(3), shed.Conn)
	assert.Equal(t, http.StatusServiceUnavailable, shed.Status)

	require.NoError(t, held.Close())
	waitTCP(t, s, 1)
	dial(t, testCtx(t), s)
}

// Connections that are not upgraded are bounded: one that says nothing, and
// one kept alive after a response that was not an upgrade.
func TestHandshakeTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	s, _ := newServer(t, Options{HandshakeTimeout: timeout})
	// The server's clock starts once it has accepted: after the dial
	// began, perhaps before it returned here.
	start := time.Now()
	silent := rawConn(t, s)
	_, err := silent.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "a silent connection is closed")
	assert.GreaterOrEqual(t, time.Since(start), timeout)

	kept := rawConn(t, s)
	_, err = io.WriteString(kept, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	r := bufio.NewReader(kept)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.False(t, resp.Close, "kept alive")
	_, err = r.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "an idle kept-alive connection is closed")
}
