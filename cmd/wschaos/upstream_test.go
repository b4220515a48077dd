package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/examples/echo-server/echo"
	"github.com/wschaos/wschaos/result"
)

// networkScenarios are the catalogue's scenarios whose faults are all in
// the network, which any server can be put behind.
var networkScenarios = []string{
	"ProxyDownFIN", "DialRefused", "BlackHoleHalfOpen", "ResetMidStream", "LimitDataMidFrame", "SlowClose",
	"Slicer", "LowBandwidth", "LatencySpike", "LatencyAboveDeadline", "Flapping", "LongOutage",
	"OutboxBackpressure", "MassDrop", "PacketLoss5", "Reorder", "Duplicate", "LossyHalfOpen",
}

// The README's "bring your own server": the echo example on 127.0.0.1 and
// `wschaos run --upstream` in front of it. The network scenarios pass with
// the reference client in plain mode; every other one is listed as not run,
// with its reason.
func TestRunUpstreamEchoExample(t *testing.T) {
	srv := httptest.NewServer(echo.Handler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--upstream", addr, "--seed", "3", "--timescale", raceScale, "--out", out)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stderr, "upstream ws://"+addr+"/ answers")
	assert.Contains(t, stdout, "--upstream "+addr)
	assert.Contains(t, stdout, "24 not run")

	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	require.NoError(t, err)
	var res result.Result
	require.NoError(t, json.Unmarshal(b, &res))
	assert.Equal(t, "ws://"+addr+"/", res.Run.Upstream)
	require.Len(t, res.Clients, 1)
	assert.True(t, res.Clients[0].Plain)
	var passed []string
	for _, sc := range res.Scenarios {
		switch {
		case slices.Contains(networkScenarios, sc.Name):
			assert.Equal(t, result.Pass, sc.Verdict, "%s: %s %+v", sc.Name, sc.Error, sc.Checks)
			passed = append(passed, sc.Name)
		case strings.HasPrefix(sc.Name, "TLS"):
			assert.Equal(t, result.NotRun, sc.Verdict, sc.Name)
			assert.Contains(t, sc.Error, "a wss:// variant", sc.Name)
		default:
			assert.Equal(t, result.NotRun, sc.Verdict, sc.Name)
			assert.True(t, strings.HasPrefix(sc.Error, "needs the fake server: "), "%s: %q", sc.Name, sc.Error)
		}
	}
	assert.ElementsMatch(t, networkScenarios, passed)
}

// Over TLS: the client verifies the server's certificate, trusted through
// --upstream-ca, against the name --upstream-host gives, although it dials
// the tap's loopback address; the TLS variants run too.
func TestRunUpstreamTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(echo.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the run without the CA is refused on purpose
	srv.StartTLS()                                   // its certificate names example.com
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	addr := srv.Listener.Addr().String()
	args := []string{"run", "--upstream", addr, "--upstream-tls", "--upstream-host", "example.com", "--upstream-ca", ca,
		"--scenario", "^(ProxyDownFIN|TLSProxyDown)$", "--seed", "5", "--timescale", raceScale, "--out", filepath.Join(dir, "out")}
	code, stdout, stderr := runCLI(t, args...)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "PASS: 2 passed, 0 failed, 0 n/a;")
	assert.Contains(t, stdout, "--upstream-tls --upstream-host example.com --upstream-ca "+ca)

	// Without the CA the certificate is not trusted, and the run says so
	// before it starts.
	code, _, stderr = runCLI(t, "run", "--upstream", addr, "--upstream-tls", "--upstream-host", "example.com", "--out", filepath.Join(dir, "out2"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "certificate")
}

func TestRunUpstreamUsage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--upstream-tls"}, "--upstream-tls needs --upstream HOST:PORT"},
		{[]string{"--upstream-path", "/ws"}, "--upstream-path needs --upstream HOST:PORT"},
		{[]string{"--upstream", "localhost"}, "want host:port"},
		{[]string{"--upstream", "127.0.0.1:99999"}, "want 1 to 65535"},
		{[]string{"--upstream", "127.0.0.1:9", "--upstream-path", "ws"}, "want an absolute path"},
		{[]string{"--upstream", "127.0.0.1:9", "--client-cmd", "node c.js"}, "--upstream and --client-cmd do not mix yet"},
		{[]string{"--upstream", "127.0.0.1:9", "--mutants"}, "--upstream and --mutants do not mix"},
		{[]string{"--upstream", "127.0.0.1:9", "--upstream-ca", "ca.pem"}, "--upstream-ca is for a TLS server"},
		{[]string{"--upstream", "127.0.0.1:9", "--upstream-tls", "--upstream-ca", "/nonexistent/ca.pem"}, "no such file"},
		{[]string{"--upstream", closed, "--scenario", "ProxyDownFIN"}, "connection refused"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			args := append([]string{"run", "--out", t.TempDir()}, tc.args...)
			code, _, stderr := runCLI(t, args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}
