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
	fs := newFlagSet("serve", stderr, "serve [--tls] [--push D] [--toxiproxy URL | --listen ADDR] [-v]")
	useTLS := fs.Bool("tls", false, "serve wss:// with a generated certificate; its PEM is written to a file and the path printed")
	push := fs.Duration("push", time.Second, "how often the server pushes a sequenced message to each session (0: never)")
	toxi := fs.String("toxiproxy", os.Getenv("TOXIPROXY_URL"), "API URL of an external toxiproxy-server (default $TOXIPROXY_URL; empty embeds Toxiproxy, its API on a free loopback port)")
	listen := fs.String("listen", "127.0.0.1:0", "where the embedded Toxiproxy's API listens (127.0.0.1:8474 is toxiproxy-cli's default); it has no authentication, keep it on loopback")
	verbose := fs.Bool("v", false, "also print every message, echo, ping and ack")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if *push < 0 {
		fmt.Fprintf(stderr, "wschaos serve: --push %v must be 0 or more\n", *push)
		return exitUsage
	}

	// Events come from the server's and the tap's goroutines; print them
	// one at a time. Until the banner is out they wait, so that the URLs
	// come first.
	var mu sync.Mutex
	started := time.Now()
	since := func(t time.Time) float64 { return float64(t.Sub(started)) / float64(time.Millisecond) }
	var held []string
	bannerDone := false
	printf := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		mu.Lock()
		defer mu.Unlock()
		if !bannerDone {
			held = append(held, line)
			return
		}
		fmt.Fprintln(stdout, line)
	}
	onServer := func(ev fakeserver.Event) {
		if chattyServerKinds[ev.Kind] && !*verbose {
			return
		}
		e := harness.ServerEvent(ev)
		e.TMS = since(ev.Time)
		printf("%s", e.String())
	}
	onTap := func(ev chaosnet.TapEvent) {
		e := harness.TapEvent(ev, since)
		e.TMS = since(ev.Time)
		printf("%s", e.String())
	}

	env, err := harness.NewEnv(ctx, harness.EnvOptions{
		ToxiproxyURL:    *toxi,
		ToxiproxyListen: *listen,
		Server:          fakeserver.Options{TLS: *useTLS, PushInterval: *push, OnEvent: onServer},
		OnTap:           onTap,
	})
	if err != nil {
		fmt.Fprintln(stderr, "wschaos serve:", err)
		return exitFail
	}
	defer func() {
		if err := env.Close(); err != nil {
			fmt.Fprintln(stderr, "wschaos serve: shutdown:", err)
			code = exitFail
		}
	}()

	var caFile string
	if pem := env.Server.CertPEM(); pem != nil {
		f, err := os.CreateTemp("", "wschaos-ca-*.pem")
		if err == nil {
			_, err = f.Write(pem)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "wschaos serve: write the CA file:", err)
			return exitFail
		}
		caFile = f.Name()
		defer os.Remove(caFile)
	}

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
	b.WriteString("Streaming what the server and the wire tap see; Ctrl-C stops.\n")
	mu.Lock()
	fmt.Fprint(stdout, b.String())
	for _, line := range held {
		fmt.Fprintln(stdout, line)
	}
	held, bannerDone = nil, true
	mu.Unlock()

	<-ctx.Done()
	printf("%.1f ms stopping", since(time.Now()))
	return exitOK
}
