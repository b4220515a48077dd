// Package plainclient is a plain WebSocket client of the kind most
// applications have, for the tests that hold outside clients to the
// catalogue: it never speaks the wschaos protocol, echoes what it
// receives, reconnects after a fixed delay and, if asked, runs a ping
// heartbeat. The tests start it as a separate process (their own test
// binary run again), so that it is measured from the wire like any
// program in another language.
package plainclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
)

// Options configure Run.
type Options struct {
	// URL to dial; CAFile, if set, is a PEM file of the certificate to
	// trust for wss://.
	URL, CAFile string
	// Retry is the fixed delay before each reconnect. Defaults to 50ms.
	Retry time.Duration
	// PingInterval, when positive, sends a ping that often; the connection
	// is declared dead when its pong is PongTimeout late.
	PingInterval, PongTimeout time.Duration
	// Out receives a line per connection and loss. Defaults to discarding.
	Out io.Writer
}

// Run connects, echoes and reconnects until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.URL == "" {
		return errors.New("plainclient: no URL")
	}
	if o.Retry <= 0 {
		o.Retry = 50 * time.Millisecond
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	dial := &websocket.DialOptions{}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("plainclient: %w", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		dial.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	for ctx.Err() == nil {
		dialCtx, cancel := context.WithTimeout(ctx, time.Second)
		c, resp, err := websocket.Dial(dialCtx, o.URL, dial)
		cancel()
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err == nil {
			fmt.Fprintln(o.Out, "connected")
			o.serve(ctx, c)
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.Retry):
		}
	}
	return nil
}

// serve echoes on one connection until it fails or its heartbeat gives up.
func (o Options) serve(ctx context.Context, c *websocket.Conn) {
	defer c.CloseNow()
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.PingInterval > 0 {
		go o.heartbeat(connCtx, c)
	}
	for {
		typ, b, err := c.Read(connCtx)
		if err != nil {
			fmt.Fprintln(o.Out, "lost:", err)
			return
		}
		if c.Write(connCtx, typ, b) != nil {
			return
		}
	}
}

func (o Options) heartbeat(ctx context.Context, c *websocket.Conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(o.PingInterval):
		}
		pingCtx, done := context.WithTimeout(ctx, o.PongTimeout)
		err := c.Ping(pingCtx)
		done()
		if err != nil {
			fmt.Fprintln(o.Out, "dead: no pong")
			c.CloseNow()
			return
		}
	}
}
