package main

import (
	"context"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
)

// A person points a client at a lossy link by hand: the banner says what
// the link does, where the client's TCP ends and how to replay it, and the
// link's counters stream with the server's and the tap's view.
func TestServePacketLoss(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := startServe(t, ctx, "--push", "20ms", "--packet-loss", "10", "--packet-seed", "7")

	url := field(t, s.waitLine(t, "client URL:"), "client URL:")
	link := s.waitLine(t, "packet link:")
	assert.Contains(t, link, "loss 10% both ways; seed 7 (replay: --packet-seed 7)")
	s.waitLine(t, "kernel TCP ends at the tap")

	c := dialHello(t, ctx, url, "by-hand")
	s.waitLine(t, "server welcome by-hand conn 1")
	// Pushes every 20 ms keep the link busy: its counters change and are
	// printed once a second, both ways.
	stats := s.waitLine(t, "link link-stats up: sent")
	assert.Contains(t, stats, "; down: sent")
	c.Close(websocket.StatusNormalClosure, "bye")
	cancel()
	s.waitLine(t, "stopping")
	for range s.lines {
	}
	assert.Equal(t, exitOK, <-s.code)
}

func TestServePacketUsage(t *testing.T) {
	for args, want := range map[string]string{
		"--packet-loss 150":         "--packet-loss 150 must be a percentage, 0 to 100",
		"--packet-duplicate -1":     "--packet-duplicate -1 must be a percentage",
		"--packet-dir sideways":     `--packet-dir "sideways" must be both, up or down`,
		"--packet-delay -5ms":       "delay, jitter and reorder wait must not be negative",
		"--packet-mtu-blackhole -1": "MTU black hole must not be negative",
	} {
		code, _, stderr := runCLI(t, append([]string{"serve"}, strings.Fields(args)...)...)
		assert.Equal(t, exitUsage, code, args)
		assert.Contains(t, stderr, want, args)
	}
}
