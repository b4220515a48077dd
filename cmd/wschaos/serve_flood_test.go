//go:build linux

package main

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/internal/flood"
)

func floodChild() bool { return flood.Child() }

// echoOnce dials u, sends a plain text message and waits for its echo.
func echoOnce(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		return err
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if string(b) == "hello" {
			return nil
		}
	}
}

// readyWithin retries echoOnce until it succeeds or d passes.
func readyWithin(t *testing.T, ctx context.Context, u string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < d {
		if err = echoOnce(ctx, u); err == nil {
			return time.Since(start)
		}
	}
	require.Failf(t, "no normal client ready", "within %v: %v", d, errors.Unwrap(err))
	return 0
}

// `wschaos serve` keeps serving a normal client during a flood of 10,000
// held connections and right after it, and sheds the excess with a 503.
func TestServeSurvivesFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10,000-connection flood: not with -short")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startServe(t, ctx, "--push", "1s")
	u := field(t, s.waitLine(t, "client URL:"), "client URL:")
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	var sheds atomic.Int64
	drained := make(chan struct{})
	go func() { // serve prints an event per connection: keep the pipe moving
		defer close(drained)
		for line := range s.lines {
			if strings.Contains(line, "tap-shed") {
				sheds.Add(1)
			}
		}
	}()
	require.NoError(t, echoOnce(ctx, u), "a normal client before the flood")

	f := flood.Start(t, parsed.Host, 10000)
	held, failed := f.WaitDialled(t, 10000, 60*time.Second)
	during := readyWithin(t, ctx, u, 15*time.Second)
	f.Stop(t)
	after := readyWithin(t, ctx, u, 3*time.Second)
	t.Logf("flood: %d held, %d dials failed, %d shed; a normal client ready in %v during it, %v after it",
		held, failed, sheds.Load(), during.Round(time.Millisecond), after.Round(time.Millisecond))
	require.Positive(t, sheds.Load(), "the excess is shed with a 503")

	cancel()
	<-drained
	require.Equal(t, exitOK, <-s.code)
}
