package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/protocol"
)

// serveSession runs cmdServe until the test ends, and hands out its stdout
// line by line.
type serveSession struct {
	lines chan string
	code  chan int
}

func startServe(t *testing.T, ctx context.Context, args ...string) *serveSession {
	t.Helper()
	pr, pw := io.Pipe()
	s := &serveSession{lines: make(chan string, 1000), code: make(chan int, 1)}
	var stderr bytes.Buffer
	go func() {
		code := cmdServe(ctx, args, pw, &stderr)
		pw.Close()
		s.code <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

// waitLine returns the first line (from now) containing want.
func (s *serveSession) waitLine(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-s.lines:
			require.True(t, ok, "serve ended before printing %q; got:\n%s", want, strings.Join(seen, "\n"))
			if strings.Contains(line, want) {
				return line
			}
			seen = append(seen, line)
		case <-timeout:
			require.Failf(t, "timeout", "no line containing %q; got:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

func field(t *testing.T, line, label string) string {
	t.Helper()
	v, ok := strings.CutPrefix(line, label)
	require.True(t, ok, "got %q, want it to start with %q", line, label)
	return strings.Fields(v)[0]
}

// dialHello connects to url and says hello as id; the test closes it.
func dialHello(t *testing.T, ctx context.Context, url, id string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	hello, err := json.Marshal(protocol.Envelope{Type: protocol.TypeHello, ClientID: id})
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, hello))
	return c
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startServe(t, ctx, "--push", "50ms")

	url := field(t, s.waitLine(t, "client URL:"), "client URL:")
	api := field(t, s.waitLine(t, "toxiproxy API:"), "toxiproxy API:")
	proxy := field(t, s.waitLine(t, "proxy:"), "proxy:")
	assert.True(t, strings.HasPrefix(url, "ws://"), "got %q", url)
	assert.True(t, strings.HasPrefix(api, "http://127.0.0.1:"), "embedded API on loopback, got %q", api)

	c := dialHello(t, ctx, url, "by-hand")
	s.waitLine(t, "tap tap-connect conn 1")
	s.waitLine(t, "server welcome by-hand conn 1")

	// The printed API drives the proxy the client goes through.
	body := `{"name":"lag","type":"latency","stream":"downstream","attributes":{"latency":300}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/proxies/"+proxy+"/toxics", strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// An echo's round trip now takes the toxic's 300 ms.
	echo, err := json.Marshal(protocol.Envelope{Type: protocol.TypeEcho, ID: 7, Body: "ping"})
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, c.Write(ctx, websocket.MessageText, echo))
	for {
		_, data, err := c.Read(ctx)
		require.NoError(t, err)
		var env protocol.Envelope
		require.NoError(t, json.Unmarshal(data, &env))
		if env.Type == protocol.TypeEcho && env.ID == 7 {
			break
		}
	}
	assert.GreaterOrEqual(t, time.Since(start), 290*time.Millisecond, "the echo comes back through the latency toxic")

	c.Close(websocket.StatusNormalClosure, "bye")
	s.waitLine(t, "server server-closed by-hand conn 1")
	s.waitLine(t, "tap tap-closed conn 1")

	cancel()
	s.waitLine(t, "stopping")
	for range s.lines {
	}
	assert.Equal(t, exitOK, <-s.code)
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func TestServeTLSAndListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(t.Context())
	s := startServe(t, ctx, "--tls", "--push", "0", "--listen", addr)
	url := field(t, s.waitLine(t, "client URL:"), "client URL:")
	assert.True(t, strings.HasPrefix(url, "wss://"), "got %q", url)
	ca := field(t, s.waitLine(t, "CA file:"), "CA file:")
	pem, err := os.ReadFile(ca)
	require.NoError(t, err)
	assert.Contains(t, string(pem), "BEGIN CERTIFICATE")
	assert.Equal(t, "http://"+addr, field(t, s.waitLine(t, "toxiproxy API:"), "toxiproxy API:"))
	cancel()
	for range s.lines {
	}
	assert.Equal(t, exitOK, <-s.code)
}

func TestServeUsage(t *testing.T) {
	code, _, stderr := runCLI(t, "serve", "--push", "-1s")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--push -1s must be 0 or more")
}
