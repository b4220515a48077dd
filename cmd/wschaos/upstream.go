package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// upstreamFlags are the flags of `wschaos run` that put the chain in front
// of a real server instead of the fake one.
type upstreamFlags struct {
	addr, path, host, caFile string
	tls                      bool
	server                   harness.UpstreamServer // the flags, checked
}

func (u *upstreamFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.addr, "upstream", "", "HOST:PORT of a WebSocket server of your own to put the wire tap and Toxiproxy in front of, instead of the fake server: "+
		"the network scenarios run against it with the reference client in plain mode; those that need the fake server are listed as not run, with the reason. "+
		"The workload's messages go to that server: point it at one you own")
	fs.BoolVar(&u.tls, "upstream-tls", false, "the --upstream server speaks wss://: TLS runs end to end through the tap and the proxy (TCP relays)")
	fs.StringVar(&u.path, "upstream-path", "/", "path of the --upstream server's WebSocket endpoint")
	fs.StringVar(&u.host, "upstream-host", "", "the name the --upstream server answers to (NAME or NAME:PORT): the upgrade's Host header and, with --upstream-tls, the name its certificate must match, since the client dials the tap's loopback address (default: the --upstream address)")
	fs.StringVar(&u.caFile, "upstream-ca", "", "PEM file of certificates to trust for --upstream-tls besides the system's, for a private or self-signed certificate")
}

// check turns the flags into the server to run against; set holds the
// flags given on the command line.
func (u *upstreamFlags) check(set map[string]bool, cfg *runConfig) error {
	if u.addr == "" {
		for _, f := range []string{"upstream-tls", "upstream-path", "upstream-host", "upstream-ca"} {
			if set[f] {
				return fmt.Errorf("--%s needs --upstream HOST:PORT", f)
			}
		}
		return nil
	}
	switch {
	case cfg.clientCmd != "":
		return errors.New("--upstream and --client-cmd do not mix yet: an outside client's readiness is read off the fake server's record of each connection, which a real server does not keep")
	case cfg.mutants:
		return errors.New("--upstream and --mutants do not mix: the mutants are caught by scenarios that need the fake server")
	case set["upstream-ca"] && !u.tls:
		return errors.New("--upstream-ca is for a TLS server: add --upstream-tls")
	}
	u.server = harness.UpstreamServer{Addr: u.addr, TLS: u.tls, Path: u.path, Host: u.host}
	if u.caFile != "" {
		pem, err := os.ReadFile(u.caFile)
		if err != nil {
			return fmt.Errorf("--upstream-ca: %w", err)
		}
		u.server.CA = pem
	}
	if err := u.server.Validate(); err != nil {
		return fmt.Errorf("--upstream: %w", err)
	}
	return nil
}

// probe checks, before any scenario, that the server answers a WebSocket
// upgrade, and says what the run will do.
func (u *upstreamFlags) probe(ctx context.Context, stderr io.Writer) error {
	if !u.server.Enabled() {
		return nil
	}
	if err := harness.ProbeUpstream(ctx, u.server); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wschaos run: upstream %s answers; network scenarios run against it with the reference client in plain mode, the others are listed as not run\n", u.server.URL())
	return nil
}

// words are the flags that replay the choice, for the replay command.
func (u *upstreamFlags) words() []string {
	if !u.server.Enabled() {
		return nil
	}
	w := []string{"--upstream", u.addr}
	if u.tls {
		w = append(w, "--upstream-tls")
	}
	if u.path != "/" {
		w = append(w, "--upstream-path", u.path)
	}
	if u.host != "" {
		w = append(w, "--upstream-host", u.host)
	}
	if u.caFile != "" {
		w = append(w, "--upstream-ca", u.caFile)
	}
	return w
}

// url is the server a result names as its upstream; empty for the fake
// server.
func (u *upstreamFlags) url() string {
	if !u.server.Enabled() {
		return ""
	}
	return u.server.URL()
}

// subject describes the reference client as it runs against the server.
func (u *upstreamFlags) subject(info result.Client) result.Client {
	if !u.server.Enabled() {
		return info
	}
	info.Plain = true
	info.Description = "the reference client (package client) in plain mode, with the scenario's profile, against " + u.server.URL() +
		"; message continuity is not applicable"
	return info
}
