package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wschaos/wschaos/internal/quirks"
	"github.com/wschaos/wschaos/protocol"
)

// Options configures a Client. The zero value of every field means its
// default; the zero Options is a plain client (Session false) that works
// against any RFC 6455 server.
type Options struct {
	// Session turns on the session layer (package protocol): hello and
	// welcome, an outbox that keeps each message until the server
	// acknowledges it, resend after a reconnect, and inbound delivery
	// resumed by sequence number. The server must speak that protocol, as
	// wschaos's fake server does. False, the default, is plain mode: the
	// connection is ready on the upgrade and messages go and come as they
	// are, which works against any WebSocket server (see the package
	// documentation for what Send and OnMessage promise in each mode).
	Session bool
	// ClientID names the client in hello (session mode). Defaults to a
	// random "c-" id.
	ClientID string
	// PingInterval is the inbound silence after which one ping is sent.
	// Defaults to 10s.
	PingInterval time.Duration
	// PongTimeout is the further silence after which the connection is dead.
	// Defaults to 5s.
	PongTimeout time.Duration
	// AckTimeout: in session mode, an outbound msg unacknowledged this long
	// means the link is dead even if data still arrives (an upstream black
	// hole). Plain mode has no acknowledgements and no such detector.
	// Defaults to PingInterval+PongTimeout.
	AckTimeout time.Duration
	// HandshakeTimeout bounds dial, TLS, HTTP upgrade and, in session mode,
	// hello/welcome. Defaults to 10s.
	HandshakeTimeout time.Duration
	// CloseGrace is how long teardown waits for the close handshake before
	// closing the socket. Defaults to 250ms.
	CloseGrace time.Duration
	// Backoff is the reconnect delay policy.
	Backoff Backoff
	// MinHealthyUptime is how long a connection must stay Ready before the
	// attempt counter resets, so a flapping server cannot reset the backoff.
	// Defaults to 2*(PingInterval+PongTimeout).
	MinHealthyUptime time.Duration
	// HintMax clamps Retry-After and 1013 hints. Defaults to 60s.
	HintMax time.Duration
	// OutboxMessages is how many messages the outbox holds: in session mode
	// those not yet acknowledged, in plain mode those not yet written to a
	// connection. Defaults to 1000.
	OutboxMessages int
	// OutboxBytes is how many body bytes the outbox holds. Defaults to 1 MiB.
	OutboxBytes int
	// OutboxAge: while the oldest queued message has waited longer than this,
	// Send fails with ErrOutboxFull. Defaults to 5m.
	OutboxAge time.Duration
	// AckDelay is how late the cumulative ack of inbound messages may be
	// (session mode). Defaults to 50ms (sooner after 64 messages).
	AckDelay time.Duration
	// TLSConfig is used for wss URLs; its ServerName names the certificate
	// to expect when the URL's host is not the server's name (a relay in
	// between, say). Defaults to the crypto/tls defaults.
	TLSConfig *tls.Config
	// Host overrides the Host header of the upgrade request, for a server
	// reached through a relay or by address that routes by name. Defaults
	// to the URL's host.
	Host string
	// HTTPHeader is sent with the upgrade request.
	HTTPHeader http.Header
	// Dial opens the transport connection. Defaults to a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Rand is the jitter source. It is used only from Run's goroutine, so it
	// must not be shared between clients. Defaults to a randomly seeded one.
	Rand *mrand.Rand
	// Logger receives every event at debug or info level. Defaults to
	// discarding.
	Logger *slog.Logger
	// OnEvent is called for every event, serialised (never concurrently),
	// from client goroutines. It must not block.
	OnEvent func(Event)
	// OnMessage is called for each inbound application message, in order,
	// serialised, from Run's goroutine: in session mode exactly once per
	// server sequence number, in plain mode for every message as it came.
	// It must not block.
	OnMessage func(Message)

	// quirks are the deliberate defects of the harness's mutant clients,
	// set through internal/quirks; never in production.
	quirks quirks.Set
}

func init() {
	quirks.Attach = func(target any, s quirks.Set) bool {
		o, ok := target.(*Options)
		if ok {
			o.quirks = s
		}
		return ok
	}
}

// validate reports the first problem with o and the URL.
func validate(rawURL string, o Options) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("client: bad url %q: %w", rawURL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("client: url %q has scheme %q, want ws or wss", rawURL, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("client: url %q has no host", rawURL)
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"PingInterval", o.PingInterval},
		{"PongTimeout", o.PongTimeout},
		{"AckTimeout", o.AckTimeout},
		{"HandshakeTimeout", o.HandshakeTimeout},
		{"CloseGrace", o.CloseGrace},
		{"Backoff.Initial", o.Backoff.Initial},
		{"Backoff.Max", o.Backoff.Max},
		{"MinHealthyUptime", o.MinHealthyUptime},
		{"HintMax", o.HintMax},
		{"OutboxAge", o.OutboxAge},
		{"AckDelay", o.AckDelay},
	}
	for _, d := range durations {
		if d.d < 0 {
			return fmt.Errorf("client: %s is %v; want 0 (the default) or a positive duration", d.name, d.d)
		}
	}
	if o.OutboxMessages < 0 {
		return fmt.Errorf("client: OutboxMessages is %d; want 0 (the default) or more", o.OutboxMessages)
	}
	if o.OutboxBytes < 0 {
		return fmt.Errorf("client: OutboxBytes is %d; want 0 (the default) or more", o.OutboxBytes)
	}
	b := o.Backoff
	if math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0) || (b.Multiplier != 0 && b.Multiplier < 1) {
		return fmt.Errorf("client: Backoff.Multiplier is %v; want 0 (the default, 2) or a finite value >= 1", b.Multiplier)
	}
	if math.IsNaN(b.Jitter) || b.Jitter < 0 || b.Jitter > 1 {
		return fmt.Errorf("client: Backoff.Jitter is %v; want a fraction in [0,1] (0 means the default 0.5; set NoJitter for none)", b.Jitter)
	}
	if b.Jitter != 0 && b.NoJitter {
		return fmt.Errorf("client: Backoff.Jitter is %v and NoJitter is set; set one of them", b.Jitter)
	}
	if bd := b.withDefaults(); bd.Initial > bd.Max {
		return fmt.Errorf("client: Backoff.Initial %v exceeds Backoff.Max %v; want Initial <= Max", bd.Initial, bd.Max)
	}
	if bd := b.withDefaults(); o.HintMax != 0 && o.HintMax < bd.Initial {
		return fmt.Errorf("client: HintMax %v is below Backoff.Initial %v; want HintMax >= Initial", o.HintMax, bd.Initial)
	}
	if strings.ContainsFunc(o.Host, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }) {
		return fmt.Errorf("client: Host %q has a space, slash or control character; want host or host:port", o.Host)
	}
	if len(o.ClientID) > protocol.MaxIDLen {
		return fmt.Errorf("client: ClientID is %d bytes; at most %d allowed", len(o.ClientID), protocol.MaxIDLen)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = "c-" + strings.ToLower(rand.Text()[:12])
	}
	if o.PingInterval == 0 {
		o.PingInterval = 10 * time.Second
	}
	if o.PongTimeout == 0 {
		o.PongTimeout = 5 * time.Second
	}
	if o.AckTimeout == 0 {
		o.AckTimeout = o.PingInterval + o.PongTimeout
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.CloseGrace == 0 {
		o.CloseGrace = 250 * time.Millisecond
	}
	o.Backoff = o.Backoff.withDefaults()
	if o.MinHealthyUptime == 0 {
		o.MinHealthyUptime = 2 * (o.PingInterval + o.PongTimeout)
	}
	if o.HintMax == 0 {
		o.HintMax = 60 * time.Second
	}
	if o.OutboxMessages == 0 {
		o.OutboxMessages = 1000
	}
	if o.OutboxBytes == 0 {
		o.OutboxBytes = 1 << 20
	}
	if o.OutboxAge == 0 {
		o.OutboxAge = 5 * time.Minute
	}
	if o.AckDelay == 0 {
		o.AckDelay = 50 * time.Millisecond
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Rand == nil {
		o.Rand = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
