package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"

	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"

	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/chaosnet/segment"
)

// Env is the world one scenario runs in: the fake server (or a real one,
// EnvOptions.Upstream), one Toxiproxy proxy in front of it, and the wire
// tap in front of the proxy. Clients dial the tap, or the packet link in
// front of it when EnvOptions.Link asks for one (with LinkOptions.BehindTap
// the link sits between the tap and the proxy).
//
//	client ──> [packet link ──>] tap ──> [packet link ──>] Toxiproxy proxy ──> fake server, or your server
type Env struct {
	// Server is the fake server; nil when the chain stands in front of a
	// real one.
	Server *fakeserver.Server
	Proxy  *chaosnet.Proxy
	Tap    *chaosnet.Tap
	// Link is the userspace packet link in front of the tap (link.go); nil
	// unless EnvOptions.Link asked for it.
	Link *segment.Segment

	toxi     *chaosnet.Toxiproxy
	tls      bool
	path     string
	upstream UpstreamServer
	// linkBehindTap: the link sits between the tap and the proxy.
	linkBehindTap bool
}

// EnvOptions configure NewEnv.
type EnvOptions struct {
	// ToxiproxyURL names an external toxiproxy-server's API. Empty means an
	// embedded in-process Toxiproxy.
	ToxiproxyURL string
	// ToxiproxyListen is where an embedded Toxiproxy's API listens
	// ("127.0.0.1:8474", say). Defaults to a free 127.0.0.1 port; ignored
	// with ToxiproxyURL.
	ToxiproxyListen string
	// Server configures the fake server; ignored with Upstream.
	Server fakeserver.Options
	// Upstream names a real server to stand the chain in front of instead
	// of the fake server, which is then not started. Defaults to none: the
	// fake server.
	Upstream UpstreamServer
	// OnTap receives the wire tap's events.
	OnTap func(chaosnet.TapEvent)
	// OnRestore, if set, is told when the watchdog had to restore the
	// proxy's accept loop (Toxiproxy's loop dies on its first accept error,
	// such as running out of descriptors in a flood).
	OnRestore func(proxy string, err error)
	// MaxConns and MaxConnsPerAddr bound the connections the wire tap
	// holds, in all and per client address; beyond them it sheds the
	// oldest silent connection with a 503. Default: from the process's
	// open-file limit (chaosnet.TapLimits).
	MaxConns, MaxConnsPerAddr int
	// AllowRemoteProxies lets the embedded Toxiproxy's API put a proxy on an
	// address that is not loopback. Default false: such requests get HTTP
	// 400, since the API has no authentication.
	AllowRemoteProxies bool
	// Link, if set, puts the packet link in front of the tap, or behind it
	// (LinkOptions.BehindTap).
	Link *LinkOptions
}

// NewEnv starts the fake server (unless opts.Upstream names a real one),
// the proxy and the tap. Close stops them.
func NewEnv(ctx context.Context, opts EnvOptions) (_ *Env, err error) {
	env := &Env{tls: opts.Server.TLS, path: "/ws", upstream: opts.Upstream}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	target := opts.Upstream.Addr
	if opts.Upstream.Enabled() {
		if err := opts.Upstream.Validate(); err != nil {
			return nil, err
		}
		env.tls, env.path = opts.Upstream.TLS, opts.Upstream.path()
	} else {
		// The server and the proxy each get a loopback address of their
		// own: both give their port back during a fault (listener stopped,
		// proxy disabled) and bind it again afterwards, and on a shared
		// 127.0.0.1 a busy machine can hand the port to another socket in
		// between.
		srvOpts := opts.Server
		if srvOpts.Addr == "" {
			srvOpts.Addr = net.JoinHostPort(privateLoopback(), "0")
		}
		if env.Server, err = fakeserver.New(srvOpts); err != nil {
			return nil, fmt.Errorf("harness: fake server: %w", err)
		}
		target = env.Server.Addr()
	}
	env.toxi, err = chaosnet.StartToxiproxyWith(ctx, chaosnet.ToxiproxyOptions{
		URL: opts.ToxiproxyURL, Listen: opts.ToxiproxyListen, AllowRemoteProxies: opts.AllowRemoteProxies,
		Watch: chaosnet.WatchOptions{OnRestore: opts.OnRestore},
	})
	if err != nil {
		return nil, fmt.Errorf("harness: toxiproxy: %w", err)
	}
	env.Proxy, err = env.toxi.NewProxyOn(ctx, "wschaos-"+randomHex(6), net.JoinHostPort(privateLoopback(), "0"), target)
	if err != nil {
		return nil, fmt.Errorf("harness: proxy: %w", err)
	}
	if err := env.startTapAndLink(opts); err != nil {
		return nil, err
	}
	return env, nil
}

// ClientURL is the address clients dial: the wire tap, or the packet
// link's entry relay when the link is in front of the tap, with the
// server's path ("/ws" for the fake server).
func (e *Env) ClientURL() string {
	scheme := "ws"
	if e.tls {
		scheme = "wss"
	}
	host := e.Tap.Addr()
	if e.Link != nil && !e.linkBehindTap {
		host = e.Link.Addr()
	}
	u := url.URL{Scheme: scheme, Host: host, Path: e.path}
	return u.String()
}

// CertPEM is the certificate a client must trust over wss://, PEM-encoded:
// the fake server's own, or the CA given for a real server (which may be
// nil: the system's roots). Nil over ws://.
func (e *Env) CertPEM() []byte {
	if e.Server != nil {
		return e.Server.CertPEM()
	}
	if e.tls {
		return e.upstream.CA
	}
	return nil
}

// ToxiproxyURL is the Toxiproxy API's address, "http://host:port": for an
// embedded Toxiproxy a loopback port of this process, which anyone on the
// machine can drive (with curl or toxiproxy-cli) while the Env is open.
func (e *Env) ToxiproxyURL() string { return e.toxi.URL() }

// ToxiproxyMode is "embedded" or "external".
func (e *Env) ToxiproxyMode() string { return e.toxi.Mode() }

// ToxiproxyVersion asks the Toxiproxy server for its version.
func (e *Env) ToxiproxyVersion(ctx context.Context) string {
	v, err := e.toxi.Version(ctx)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return v
}

// AddToxic adds a Toxiproxy toxic to the proxy in front of the server.
func (e *Env) AddToxic(ctx context.Context, t Toxic) error {
	return e.Proxy.AddToxic(ctx, chaosnet.Toxic{Name: t.Name, Type: t.Type, Stream: t.Stream, Toxicity: t.Toxicity, Attributes: t.Attributes})
}

// RemoveToxic removes the toxic named name from the proxy.
func (e *Env) RemoveToxic(ctx context.Context, name string) error {
	return e.Proxy.RemoveToxic(ctx, name)
}

// DisableProxy closes every connection through the proxy with FIN and
// refuses new ones until EnableProxy.
func (e *Env) DisableProxy(ctx context.Context) error { return e.Proxy.Disable(ctx) }

// EnableProxy lets connections through the proxy again.
func (e *Env) EnableProxy(ctx context.Context) error { return e.Proxy.Enable(ctx) }

// Close stops the packet link and the tap (the one clients dial first),
// deletes the proxy, and stops Toxiproxy (embedded) and
// the fake server, waiting for their goroutines.
func (e *Env) Close() error {
	var errs []error
	if e.Link != nil && !e.linkBehindTap {
		errs = append(errs, e.Link.Close())
	}
	if e.Tap != nil {
		errs = append(errs, e.Tap.Close())
	}
	if e.Link != nil && e.linkBehindTap {
		errs = append(errs, e.Link.Close())
	}
	if e.Proxy != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		errs = append(errs, e.Proxy.Delete(ctx))
		cancel()
	}
	if e.toxi != nil {
		errs = append(errs, e.toxi.Close())
	}
	if e.Server != nil {
		errs = append(errs, e.Server.Close())
	}
	return errors.Join(errs...)
}

// QuietToxiproxy silences zerolog's global logger, which Toxiproxy's
// bandwidth toxic writes to (at trace level, on standard error) when
// Toxiproxy is embedded. It changes process-wide state, so no package of
// this module calls it on its own: a program or a TestMain that wants
// quiet output calls it once. The wschaos command does.
func QuietToxiproxy() {
	zerolog.SetGlobalLevel(zerolog.Disabled)
	zlog.Logger = zerolog.Nop()
}

// privateLoopback returns a random address in 127.0.0.0/8 other than
// 127.0.0.1 on Linux, where the whole block is local; elsewhere 127.0.0.1.
func privateLoopback() string {
	if runtime.GOOS != "linux" {
		return "127.0.0.1"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("127.%d.%d.%d", 1+b[0]%254, b[1], 1+b[2]%254)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
