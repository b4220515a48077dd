package client

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts Options
		want string
	}{
		{"Scheme", "http://x/", Options{}, `scheme "http", want ws or wss`},
		{"NoHost", "ws:///path", Options{}, "has no host"},
		{"BadURL", "ws://[::1", Options{}, "bad url"},
		{"NegativePing", "ws://x/", Options{PingInterval: -time.Second}, "PingInterval is -1s; want 0 (the default) or a positive duration"},
		{"NegativeGrace", "ws://x/", Options{CloseGrace: -1}, "CloseGrace"},
		{"NegativeBackoff", "ws://x/", Options{Backoff: Backoff{Max: -1}}, "Backoff.Max"},
		{"Jitter", "ws://x/", Options{Backoff: Backoff{Jitter: 1.5}}, "Backoff.Jitter is 1.5; want a fraction in [0,1]"},
		{"JitterAndNoJitter", "ws://x/", Options{Backoff: Backoff{Jitter: 0.3, NoJitter: true}}, "set one of them"},
		{"Multiplier", "ws://x/", Options{Backoff: Backoff{Multiplier: 0.5}}, "Backoff.Multiplier is 0.5"},
		{"InitialAboveMax", "ws://x/", Options{Backoff: Backoff{Initial: time.Minute}}, "Backoff.Initial 1m0s exceeds Backoff.Max 10s"},
		{"HintMax", "ws://x/", Options{HintMax: time.Millisecond}, "HintMax 1ms is below Backoff.Initial 100ms"},
		{"Outbox", "ws://x/", Options{OutboxMessages: -1}, "OutboxMessages"},
		{"ClientID", "ws://x/", Options{ClientID: strings.Repeat("x", 200)}, "ClientID is 200 bytes"},
		{"Host", "ws://x/", Options{Host: "api.example.com/ws"}, `Host "api.example.com/ws" has a space, slash or control character`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.url, tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "client: "), "got %q, want a client: prefix", err)
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	c, err := New("wss://example.com/ws", Options{})
	require.NoError(t, err)
	o := c.Options()
	assert.True(t, strings.HasPrefix(o.ClientID, "c-"), "ClientID %q", o.ClientID)
	assert.Equal(t, 10*time.Second, o.PingInterval)
	assert.Equal(t, 5*time.Second, o.PongTimeout)
	assert.Equal(t, 15*time.Second, o.AckTimeout)
	assert.Equal(t, 10*time.Second, o.HandshakeTimeout)
	assert.Equal(t, 250*time.Millisecond, o.CloseGrace)
	assert.Equal(t, Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.5}, o.Backoff)
	assert.Equal(t, 30*time.Second, o.MinHealthyUptime)
	assert.Equal(t, 60*time.Second, o.HintMax)
	assert.Equal(t, 1000, o.OutboxMessages)
	assert.Equal(t, 1<<20, o.OutboxBytes)
	assert.Equal(t, 5*time.Minute, o.OutboxAge)
	assert.Equal(t, 50*time.Millisecond, o.AckDelay)
	assert.NotNil(t, o.Dial)
	assert.NotNil(t, o.Rand)
	assert.NotNil(t, o.Logger)
	assert.Equal(t, 15*time.Second, c.DetectionBound())
	assert.Equal(t, StateIdle, c.State())

	c, err = New("ws://x/", Options{PingInterval: time.Second, PongTimeout: 200 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1200*time.Millisecond, c.DetectionBound())
	assert.Equal(t, 1200*time.Millisecond, c.Options().AckTimeout)
	assert.Equal(t, 2400*time.Millisecond, c.Options().MinHealthyUptime)
}
