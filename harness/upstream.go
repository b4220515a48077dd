package harness

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/result"
)

// UpstreamServer is a real WebSocket server for the chain to stand in front of,
// instead of the fake server:
//
//	client ──> wire tap ──> Toxiproxy proxy ──> your server
//
// The tap and the proxy relay TCP, so every network fault works against any
// server; what needs the fake server's cooperation (its faults, its options,
// its record of the session protocol) cannot, and Run reports such a
// scenario as not run with the reason (Scenario.NeedsServerReason). The
// reference client runs in plain mode (client.Options.Session false): a
// real server does not speak wschaos's session protocol.
//
// The zero value means the fake server.
type UpstreamServer struct {
	// Addr is the server's "host:port". Empty (the default) means the fake
	// server. Any address is accepted; wschaos's own tests and examples use
	// 127.0.0.1 only, and a server elsewhere gets the workload's traffic.
	Addr string
	// TLS says the server serves wss://. The client then speaks TLS through
	// the tap and the proxy to the server itself. Defaults to ws://.
	TLS bool
	// Path is the path of the WebSocket endpoint. Defaults to "/".
	Path string
	// Host is the name the server answers to, "name" or "name:port": the
	// TLS server name the client checks the certificate against (the
	// client dials the tap's loopback address, which no real certificate
	// names) and the Host header of the upgrade. Defaults to Addr.
	Host string
	// CA holds PEM certificates to trust for TLS besides the system's, for
	// a server with a private or self-signed certificate. Defaults to none.
	CA []byte
}

// Enabled reports whether u names a real server.
func (u UpstreamServer) Enabled() bool { return u.Addr != "" }

// Validate reports what is wrong with u, if anything.
func (u UpstreamServer) Validate() error {
	host, port, err := net.SplitHostPort(u.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("harness: upstream %q: want host:port, such as 127.0.0.1:8080", u.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("harness: upstream %q: port %q, want 1 to 65535", u.Addr, port)
	}
	if u.Path != "" && !strings.HasPrefix(u.Path, "/") {
		return fmt.Errorf("harness: upstream path %q: want an absolute path such as /ws", u.Path)
	}
	if strings.ContainsFunc(u.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("harness: upstream path %q has a space or control character", u.Path)
	}
	if strings.ContainsFunc(u.Host, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }) {
		return fmt.Errorf("harness: upstream host %q: want a name such as example.com or example.com:8443", u.Host)
	}
	if len(u.CA) > 0 && !x509.NewCertPool().AppendCertsFromPEM(u.CA) {
		return errors.New("harness: upstream CA: no PEM certificate in it")
	}
	return nil
}

// URL is the server's own address, scheme://Addr/Path: what a result names
// as its upstream.
func (u UpstreamServer) URL() string {
	return (&url.URL{Scheme: u.scheme(), Host: u.Addr, Path: u.path()}).String()
}

func (u UpstreamServer) scheme() string {
	if u.TLS {
		return "wss"
	}
	return "ws"
}

func (u UpstreamServer) path() string { return cmp.Or(u.Path, "/") }

// hostHeader is the Host header of the upgrade: the server's name, never
// the tap's address the client dials.
func (u UpstreamServer) hostHeader() string { return cmp.Or(u.Host, u.Addr) }

// TLSConfig is what a client needs to verify the server through the chain:
// the server's name and the roots to trust. Nil without TLS.
func (u UpstreamServer) TLSConfig() *tls.Config {
	if !u.TLS {
		return nil
	}
	name := u.hostHeader()
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	conf := &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	if len(u.CA) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(u.CA)
		conf.RootCAs = pool
	}
	return conf
}

// errOutsideUpstream refuses an outside client against a real server: its
// lifecycle is read off the fake server's record of each connection (the
// welcome or first echo that makes it ready), which a real server does
// not keep.
var errOutsideUpstream = errors.New("harness: an outside client cannot run against a real upstream server: " +
	"its readiness is read off the fake server's record of each connection, which a real server does not keep; " +
	"hold the reference client to your server, or your client to the fake server")

// probeTimeout bounds ProbeUpstream.
const probeTimeout = 10 * time.Second

// ProbeUpstream dials the server directly (not through the chain) and
// completes one WebSocket upgrade, closing it normally, so that a wrong
// address, path, certificate or name is one clear error before a run rather
// than every scenario failing to warm up.
func ProbeUpstream(ctx context.Context, u UpstreamServer) error {
	if err := u.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: u.TLSConfig(), DisableKeepAlives: true,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(ctx, u.URL(), &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, Host: u.hostHeader(),
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return fmt.Errorf("harness: upstream %s refused the WebSocket upgrade with %s", u.URL(), resp.Status)
		}
		return fmt.Errorf("harness: upstream %s: %w", u.URL(), err)
	}
	return ws.Close(websocket.StatusNormalClosure, "wschaos probe")
}

// NeedsServerReason says why the scenario cannot run against a real
// upstream server, or "" when it can: a fault that acts on the fake server
// (close codes, refusals, muted pongs, restarts), a fake server option no
// real server can be told to honour (replay windows, overlap, connection
// limits, a hello timeout), or a defining check that reads the session
// protocol's sequence numbers and the fake server's record of them.
// PushInterval and ResumeWindow do not count: against a real server the
// downstream traffic is whatever it sends (an echo server answers the
// workload), and resume needs the session protocol anyway.
func (s *Scenario) NeedsServerReason() string {
	for _, f := range s.Faults {
		if f.Layer == result.LayerServer {
			return "its fault " + f.Kind + " acts on the fake server"
		}
	}
	if opt := fakeServerOption(s.Server); opt != "" {
		return "it sets the fake server's " + opt
	}
	if s.Checks == nil {
		return ""
	}
	for _, c := range s.Checks(effectiveProfile(s.Client)) {
		if c.Target.Defining && c.needs != "" {
			return "its defining check " + c.Target.Name + " " + c.needs
		}
	}
	return ""
}

// fakeServerOption names the first option of o that only the fake server
// has, with its value, or "".
func fakeServerOption(o fakeserver.Options) string {
	switch {
	case o.ResumeMessages != 0:
		return fmt.Sprintf("ResumeMessages (%d)", o.ResumeMessages)
	case o.ReplayOverlap != 0:
		return fmt.Sprintf("ReplayOverlap (%d)", o.ReplayOverlap)
	case o.MaxConnections != 0:
		return fmt.Sprintf("MaxConnections (%d)", o.MaxConnections)
	case o.LimitRetryAfter != 0:
		return fmt.Sprintf("LimitRetryAfter (%v)", o.LimitRetryAfter)
	case o.HelloTimeout != 0:
		return fmt.Sprintf("HelloTimeout (%v)", o.HelloTimeout)
	}
	return ""
}

// skipFor says why sc cannot run against u, or "" when it can.
func skipFor(sc Scenario, u UpstreamServer) string {
	if why := sc.NeedsServerReason(); why != "" {
		return "needs the fake server: " + why
	}
	if sc.TLS && !u.TLS {
		return "a wss:// variant: against a real server every scenario speaks its scheme; give a TLS server (--upstream-tls) to run it"
	}
	return ""
}

// NotRun is the result of a scenario that was not run against client
// clientName, and why.
func NotRun(sc Scenario, clientName, why string) result.Scenario {
	return result.Scenario{Name: sc.Name, Description: sc.Description, Client: clientName, Verdict: result.NotRun, Error: why,
		Clients: max(sc.Clients, 1), Faults: []result.Fault{}, Targets: []result.Target{}, Checks: []result.Check{}, Timeline: []result.Event{}}
}
