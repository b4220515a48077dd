package chaosnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ErrClosed is returned by calls on a [Toxiproxy] (or its proxies) after Close.
var ErrClosed = errors.New("chaosnet: toxiproxy closed")

// Mode names returned by [Toxiproxy.Mode].
const (
	ModeEmbedded = "embedded"
	ModeExternal = "external"
)

// Toxiproxy is a connection to a Toxiproxy server: one embedded in this process,
// or an external toxiproxy-server reached over its HTTP API. Its methods are safe
// for concurrent use.
type Toxiproxy struct {
	url    string
	client *toxiclient.Client

	// Embedded mode only.
	srv  *toxiproxy.ApiServer
	http *httptest.Server

	// The accept-loop watchdog: one goroutine per proxy (see WatchOptions),
	// stopped by watchCtx at Close.
	watch       WatchOptions
	watchCtx    context.Context
	watchCancel context.CancelFunc
	watchWG     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	calls   sync.WaitGroup      // in-flight client calls, see do
	proxies map[string]struct{} // names of proxies created through t and not deleted

	closeOnce sync.Once
	closeErr  error
}

// ToxiproxyOptions configure [StartToxiproxyWith]. The zero value embeds a
// Toxiproxy in this process, its API on a free 127.0.0.1 port, that refuses
// proxies listening beyond loopback.
type ToxiproxyOptions struct {
	// URL is the API address of an external toxiproxy-server
	// ("http://host:8474" or "host:8474"). Default "": embed one in this
	// process.
	URL string
	// Listen is where an embedded Toxiproxy's API listens
	// ("127.0.0.1:8474", say; port 0 picks a free one). Default: a free
	// 127.0.0.1 port. The API has no authentication: keep it on loopback
	// unless the network is trusted. Ignored with URL.
	Listen string
	// AllowRemoteProxies lets the embedded API create a proxy, or move one,
	// onto a listen address that is not loopback (127.0.0.0/8, ::1,
	// localhost). Default false: such requests get HTTP 400, because any
	// process on the machine can drive the API and such a proxy relays for
	// other machines. An external server is its owner's business: ignored
	// with URL.
	AllowRemoteProxies bool
	// Watch configures the watchdog that restores a proxy whose accept loop
	// died (see WatchOptions). Default: on, probing every second.
	Watch WatchOptions

	// log receives the embedded server's warnings as zerolog JSON lines
	// (an accept loop's death among them); nil, outside tests, logs
	// nothing.
	log io.Writer
}

// StartToxiproxy connects to a Toxiproxy server. With url "" it starts one in
// this process, serving its API on a loopback port; otherwise url is the API
// address of an external toxiproxy-server ("http://host:8474" or "host:8474"),
// which is checked with a version request. It is StartToxiproxyWith with
// only URL set.
func StartToxiproxy(ctx context.Context, url string) (*Toxiproxy, error) {
	return StartToxiproxyWith(ctx, ToxiproxyOptions{URL: url})
}

// StartEmbeddedToxiproxy starts a Toxiproxy in this process, as
// StartToxiproxy with url "" does, with its API listening on addr. It is
// StartToxiproxyWith with only Listen set.
func StartEmbeddedToxiproxy(addr string) (*Toxiproxy, error) {
	return StartToxiproxyWith(context.Background(), ToxiproxyOptions{Listen: addr})
}

// StartToxiproxyWith connects to the Toxiproxy server opts name: an external
// one at opts.URL, checked with a version request, or one embedded in this
// process.
//
// The embedded server logs nothing through its own logger. One Toxiproxy
// toxic (bandwidth) logs through zerolog's global logger, which this package
// leaves alone: a library does not change a program's global state. The
// wschaos command quiets it for its own process.
//
// Each proxy created through it then has a watchdog goroutine (see
// WatchOptions), which ends at the proxy's Delete or at Close. Close
// releases it.
func StartToxiproxyWith(ctx context.Context, opts ToxiproxyOptions) (*Toxiproxy, error) {
	if opts.URL == "" {
		listen := opts.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return nil, fmt.Errorf("chaosnet: toxiproxy API listener: %w", err)
		}
		return startEmbeddedOn(ln, opts), nil
	}
	url := opts.URL
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		url = "http://" + url
	}
	url = strings.TrimRight(url, "/")
	t := &Toxiproxy{
		url:     url,
		client:  toxiclient.NewClient(url),
		proxies: make(map[string]struct{}),
	}
	if !loopbackURL(url) {
		// Its proxies' addresses are the other host's: a probe from here
		// would reach this host's loopback instead.
		opts.Watch.Interval = -1
	}
	t.startWatches(opts.Watch)
	if _, err := getVersion(ctx, url); err != nil {
		t.watchCancel()
		closeIdleHTTP()
		return nil, fmt.Errorf("chaosnet: toxiproxy at %s not reachable (is toxiproxy-server running there?): %w", url, err)
	}
	return t, nil
}

// startEmbeddedOn serves the API on ln.
func startEmbeddedOn(ln net.Listener, opts ToxiproxyOptions) *Toxiproxy {
	logger := zerolog.Nop()
	if opts.log != nil {
		logger = zerolog.New(opts.log).Level(zerolog.WarnLevel)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), logger)
	var api http.Handler = srv.Routes()
	if !opts.AllowRemoteProxies {
		api = loopbackOnly(api)
	}
	hs := httptest.NewUnstartedServer(api)
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start() // accepting when Start returns
	t := &Toxiproxy{
		url:     hs.URL,
		client:  toxiclient.NewClient(hs.URL),
		srv:     srv,
		http:    hs,
		proxies: make(map[string]struct{}),
	}
	t.startWatches(opts.Watch)
	return t
}

// loopbackURL reports whether the API at url is on this host's loopback.
func loopbackURL(url string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if !strings.Contains(host, ":") || strings.HasSuffix(host, "]") {
		host += ":0" // no port: make it host:port for the check
	}
	return isLoopbackListen(host)
}

// startWatches records the watchdog's options; each proxy's watchdog starts
// in NewProxyOn.
func (t *Toxiproxy) startWatches(opts WatchOptions) {
	opts.setDefaults()
	t.watch = opts
	t.watchCtx, t.watchCancel = context.WithCancel(context.Background())
}

// Mode reports "embedded" or "external".
func (t *Toxiproxy) Mode() string {
	if t.srv != nil {
		return ModeEmbedded
	}
	return ModeExternal
}

// URL returns the API URL, "http://host:port".
func (t *Toxiproxy) URL() string { return t.url }

// Version returns the server's version string. An embedded server, and any
// server built without release flags, reports "git".
//
// Unlike the other calls it does not go through the Toxiproxy client (a plain
// GET /version is all it does) so that it ends with ctx, leaving nothing behind:
// StartToxiproxy uses it before there is a Close to wait for stragglers.
func (t *Toxiproxy) Version(ctx context.Context) (string, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return "", fmt.Errorf("chaosnet: version: %w", ErrClosed)
	}
	body, err := getVersion(ctx, t.url)
	if err != nil {
		return "", fmt.Errorf("chaosnet: version: %w", err)
	}
	// Since v2.6 the body is {"version": "x"}; before, plain text.
	var v struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(body, &v) == nil && v.Version != "" {
		return v.Version, nil
	}
	return strings.TrimSpace(string(body)), nil
}

func getVersion(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/version", nil)
	if err != nil {
		return nil, err
	}
	// The server refuses browser user agents; be the official client.
	req.Header.Set("User-Agent", "toxiproxy-cli")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /version: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}

// NewProxy creates a proxy named name that listens on a free loopback port and
// forwards to upstream ("host:port"). Names are unique per server: creating a
// second proxy with a name in use fails (HTTP 409 "proxy already exists"), so
// callers pass a unique name. An external server must be able to reach upstream.
//
// If ctx ends first, NewProxy returns ctx's error; the proxy may still be
// created, and Close deletes it.
func (t *Toxiproxy) NewProxy(ctx context.Context, name, upstream string) (*Proxy, error) {
	return t.NewProxyOn(ctx, name, "127.0.0.1:0", upstream)
}

// NewProxyOn is NewProxy listening on listen (host:port, port 0 for any).
// A disabled proxy gives its port back and Enable binds it again, so a busy
// machine can hand that port to someone else in between; a listener on a
// loopback address of its own (127.x.y.z on Linux) is out of that race.
func (t *Toxiproxy) NewProxyOn(ctx context.Context, name, listen, upstream string) (*Proxy, error) {
	if name == "" || strings.ContainsAny(name, "/?#% ") {
		return nil, fmt.Errorf("chaosnet: create proxy %q: name must be non-empty, without '/', '?', '#', '%%' or spaces", name)
	}
	if upstream == "" {
		return nil, fmt.Errorf("chaosnet: create proxy %q: upstream must be host:port", name)
	}
	var cp *toxiclient.Proxy
	err := t.do(ctx, func() error {
		var err error
		cp, err = t.client.CreateProxy(name, listen, upstream)
		if err != nil {
			return err
		}
		t.mu.Lock()
		t.proxies[name] = struct{}{}
		t.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chaosnet: create proxy %q: %w", name, err)
	}
	// The API answers with the address it bound, port included.
	p := &Proxy{t: t, cp: cp, name: name, addr: cp.Listen, upstream: upstream}
	p.wantEnabled.Store(true)
	if t.watch.Interval > 0 {
		t.mu.Lock()
		if !t.closed {
			p.startWatch()
		}
		t.mu.Unlock()
	}
	return p, nil
}

// Close stops the proxies' watchdogs, releases the server and waits for
// in-flight calls. Embedded: it closes
// the API server, then stops every proxy, which closes their connections. External:
// it deletes the proxies created through t and still present (closing their
// connections), waiting up to the client's 30s timeout per request. Calls after
// Close return [ErrClosed]. Close is idempotent; later calls return the first
// result.
func (t *Toxiproxy) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.watchCancel()
		t.watchWG.Wait()
		if t.srv != nil {
			// Close blocks until in-flight API requests finish and closes idle
			// client connections; proxies keep accepting until Clear.
			t.http.Close()
			t.closeErr = t.srv.Collection.Clear()
			t.calls.Wait()
			return
		}
		// Calls abandoned by their context may still create proxies: wait for them
		// so that the list below is complete.
		t.calls.Wait()
		t.mu.Lock()
		names := make([]string, 0, len(t.proxies))
		for name := range t.proxies {
			names = append(names, name)
		}
		clear(t.proxies)
		t.mu.Unlock()
		var errs []error
		for _, name := range names {
			p := t.client.NewProxy()
			p.Name = name
			if err := p.Delete(); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("chaosnet: delete proxy %q: %w", name, err))
			}
		}
		closeIdleHTTP()
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}

// do runs f, a blocking call of the Toxiproxy client, and returns its error, or
// ctx's error as soon as ctx ends. In that case f keeps running in its goroutine
// until the request finishes (the client's http.Client has a 30s timeout and no
// way to pass a context); Close waits for it.
func (t *Toxiproxy) do(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.calls.Add(1)
	t.mu.Unlock()

	done := make(chan error, 1)
	go func() {
		defer t.calls.Done()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Toxiproxy) forget(name string) {
	t.mu.Lock()
	delete(t.proxies, name)
	t.mu.Unlock()
}

// closeIdleHTTP drops the keep-alive connections the Toxiproxy client left in
// http.DefaultTransport (it has no transport of its own), so that their
// goroutines end.
func closeIdleHTTP() {
	if tr, ok := http.DefaultTransport.(interface{ CloseIdleConnections() }); ok {
		tr.CloseIdleConnections()
	}
}

func isNotFound(err error) bool {
	var apiErr *toxiclient.ApiError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}
