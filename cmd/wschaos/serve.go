package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/result"
)

// Server events that happen once per message, ping or ack: printed only
// with -v.
var chattyServerKinds = map[result.Kind]bool{
	result.KindSend: true, result.KindRecv: true, result.KindDup: true, result.KindAckRecv: true, result.KindPush: true,
	result.KindEcho: true, result.KindRaw: true, result.KindPingRecv: true, result.KindPongWithheld: true,
}

// cmdServe starts the fake server behind Toxiproxy and the wire tap for a
// person to explore by hand: it prints the URL to point a client at and the
// Toxiproxy API and proxy to add toxics with, then streams what the server
// and the tap see until ctx ends (Ctrl-C).
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("serve", stderr, "serve [--tls] [--push D] [--toxiproxy URL | --listen ADDR] [--packet-loss PCT ...] [-v]")
	useTLS := fs.Bool("tls", false, "serve wss:// with a generated certificate; its PEM is written to a file and the path printed")
	push := fs.Duration("push", time.Second, "how often the server pushes a sequenced message to each session (0: never)")
	toxi := fs.String("toxiproxy", os.Getenv("TOXIPROXY_URL"), "API URL of an external toxiproxy-server (default $TOXIPROXY_URL; empty embeds Toxiproxy, its API on a free loopback port)")
	listen := fs.String("listen", "127.0.0.1:0", "where the embedded Toxiproxy's API listens (127.0.0.1:8474 is toxiproxy-cli's default); it has no authentication, keep it on loopback")
	verbose := fs.Bool("v", false, "also print every message, echo, ping and ack")
	total, perAddr := chaosnet.TapLimits()
	maxConns := fs.Int("max-conns", 0, fmt.Sprintf("connections the wire tap holds in all; beyond it the oldest silent one is shed with a 503 (0: from the open-file limit, (limit - max(256, limit/10)) / 5: %d here)", total))
	maxPerAddr := fs.Int("max-conns-per-addr", 0, fmt.Sprintf("connections the wire tap holds per client address (0: 3/4 of --max-conns: %d here)", perAddr))
	remote := fs.Bool("allow-remote-proxies", false, "let the Toxiproxy API put a proxy on an address that is not loopback; refused with HTTP 400 by default, since the API has no authentication")
	packets := addPacketFlags(fs)
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if *maxConns < 0 || *maxPerAddr < 0 {
		fmt.Fprintln(stderr, "wschaos serve: --max-conns and --max-conns-per-addr must be 0 (from the open-file limit) or more")
		return exitUsage
	}
	if _, err := packets.parsed(fs); err != nil {
		fmt.Fprintln(stderr, "wschaos serve:", err)
		return exitUsage
	}
	if *push < 0 {
		fmt.Fprintf(stderr, "wschaos serve: --push %v must be 0 or more\n", *push)
		return exitUsage
	}
	out := newServeOutput(stdout, *verbose)
	env, err := harness.NewEnv(ctx, harness.EnvOptions{
		ToxiproxyURL:    *toxi,
		ToxiproxyListen: *listen,
		Server:          fakeserver.Options{TLS: *useTLS, PushInterval: *push, OnEvent: out.onServer},
		OnTap:           out.onTap,
		MaxConns:        *maxConns, MaxConnsPerAddr: *maxPerAddr, AllowRemoteProxies: *remote,
		OnRestore: func(proxy string, err error) {
			out.printf("%.1f ms harness note · the watchdog restored proxy %s, whose accept loop had died (error: %v)", out.since(time.Now()), proxy, err)
		},
		Link: packets.linkOptions(),
	})
	if err != nil {
		fmt.Fprintln(stderr, "wschaos serve:", err)
		return exitUsage
	}
	defer func() {
		if err := env.Close(); err != nil {
			fmt.Fprintln(stderr, "wschaos serve: shutdown:", err)
			code = exitFail
		}
	}()
	caFile, err := writeCA(env)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos serve: write the CA file:", err)
		return exitFail
	}
	if caFile != "" {
		defer os.Remove(caFile)
	}
	if env.Link != nil {
		if err := env.SetPacketFaults(packets.up, packets.down); err != nil {
			fmt.Fprintln(stderr, "wschaos serve:", err)
			return exitUsage
		}
		defer packets.streamStats(env, out)()
	}
	out.banner(bannerText(env, caFile, packets.banner(env)))
	<-ctx.Done()
	out.printf("%.1f ms stopping", out.since(time.Now()))
	return exitOK
}

// serveOutput prints the server's and the tap's events one at a time, as
// result events; until the banner is out they wait, so the URLs come first.
type serveOutput struct {
	w       io.Writer
	verbose bool
	started time.Time

	mu         sync.Mutex
	held       []string
	bannerDone bool
}

func newServeOutput(w io.Writer, verbose bool) *serveOutput {
	return &serveOutput{w: w, verbose: verbose, started: time.Now()}
}

func (o *serveOutput) since(t time.Time) float64 {
	return float64(t.Sub(o.started)) / float64(time.Millisecond)
}

func (o *serveOutput) printf(format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.bannerDone {
		o.held = append(o.held, line)
		return
	}
	fmt.Fprintln(o.w, line)
}

func (o *serveOutput) onServer(ev fakeserver.Event) {
	if chattyServerKinds[ev.Kind] && !o.verbose {
		return
	}
	e := harness.ServerEvent(ev)
	e.TMS = o.since(ev.Time)
	o.printf("%s", e.String())
}

func (o *serveOutput) onTap(ev chaosnet.TapEvent) {
	e := harness.TapEvent(ev, o.since)
	e.TMS = o.since(ev.Time)
	o.printf("%s", e.String())
}

// banner prints text, then the events held back until now.
func (o *serveOutput) banner(text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprint(o.w, text)
	for _, line := range o.held {
		fmt.Fprintln(o.w, line)
	}
	o.held, o.bannerDone = nil, true
}

// writeCA writes the fake server's certificate to a file for clients to
// trust, and returns its path; "" over plain ws://.
func writeCA(env *harness.Env) (string, error) {
	pem := env.Server.CertPEM()
	if pem == nil {
		return "", nil
	}
	f, err := os.CreateTemp("", "wschaos-ca-*.pem")
	if err != nil {
		return "", err
	}
	_, err = f.Write(pem)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// bannerText says where to point a client and how to break things; extra
// (the packet link's part) goes before the last line.
func bannerText(env *harness.Env, caFile, extra string) string {
	api, proxy := env.ToxiproxyURL(), env.Proxy.Name()
	var b strings.Builder
	fmt.Fprintf(&b, "client URL:     %s\n", env.ClientURL())
	if caFile != "" {
		fmt.Fprintf(&b, "CA file:        %s (trust it: WSCHAOS_CA_FILE, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE)\n", caFile)
	}
	fmt.Fprintf(&b, "toxiproxy API:  %s (%s)\n", api, env.ToxiproxyMode())
	fmt.Fprintf(&b, "proxy:          %s (listen %s, upstream %s)\n", proxy, env.Proxy.Addr(), env.Proxy.Upstream())
	fmt.Fprintf(&b, "add a toxic:    curl -sX POST %s/proxies/%s/toxics -d '{\"name\":\"lag\",\"type\":\"latency\",\"stream\":\"downstream\",\"attributes\":{\"latency\":500}}'\n", api, proxy)
	fmt.Fprintf(&b, "remove it:      curl -sX DELETE %s/proxies/%s/toxics/lag\n", api, proxy)
	fmt.Fprintf(&b, "black hole:     curl -sX POST %s/proxies/%s/toxics -d '{\"name\":\"hole\",\"type\":\"timeout\",\"attributes\":{\"timeout\":0}}'\n", api, proxy)
	fmt.Fprintf(&b, "proxy down/up:  curl -sX POST %s/proxies/%s -d '{\"enabled\":false}'   (true to bring it back)\n", api, proxy)
	b.WriteString(extra)
	b.WriteString("Streaming what the server and the wire tap see; Ctrl-C stops.\n")
	return b.String()
}
