package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/plainclient"
	"github.com/wschaos/wschaos/result"
	"github.com/wschaos/wschaos/scenarios"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// Bad profile values, in flags or a file, are refused before any work with
// an error that names the field and what is allowed.
func TestProfileErrors(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		file string
		want []string
	}{
		{name: "negative ping", args: []string{"--client-cmd", "x", "--ping-interval", "-1s"},
			want: []string{"--ping-interval is -1s; want 0 (no heartbeat) or a positive duration, at most 10m0s"}},
		{name: "jitter", args: []string{"--client-cmd", "x", "--backoff-jitter", "1.5"},
			want: []string{"--backoff-jitter is 1.5; want a fraction from 0 (none) to 1"}},
		{name: "multiplier", args: []string{"--backoff-multiplier", "0.5"},
			want: []string{"--backoff-multiplier is 0.5; want 1 (a fixed delay) to 100"}},
		{name: "max below initial", args: []string{"--backoff-initial", "2s", "--backoff-max", "1s"},
			want: []string{"--backoff-max is 1s, below backoff_initial 2s"}},
		{name: "handshake zero", args: []string{"--handshake-timeout", "0"},
			want: []string{"--handshake-timeout is 0s; want a positive duration"}},
		{name: "too long", args: []string{"--ping-interval", "11m"}, want: []string{"--ping-interval is 11m0s; want at most 10m0s"}},
		{name: "two at once", args: []string{"--backoff-jitter", "-1", "--pong-timeout", "-1s"},
			want: []string{"--pong-timeout is -1s", "--backoff-jitter is -1"}},
		{name: "not a duration", args: []string{"--ping-interval", "soon"}, want: []string{`invalid value "soon" for flag -ping-interval`}},
		{name: "no heartbeat for the reference", args: []string{"--ping-interval", "0"},
			want: []string{"declares no heartbeat", "only an outside client (--client-cmd)"}},
		{name: "mutants", args: []string{"--mutants", "--ping-interval", "1s"}, want: []string{"--mutants runs the catalogue's own profile"}},
		{name: "clients", args: []string{"--clients", "1"}, want: []string{"--clients 1: want 2 to 500"}},
		{name: "clients high", args: []string{"--clients", "501"}, want: []string{"--clients 501: want 2 to 500"}},
		{name: "missing file", args: []string{"--client-profile", "/nonexistent/p.json"}, want: []string{"--client-profile: open /nonexistent/p.json"}},
		{name: "malformed", file: "{\n  \"ping_interval\": \"2s\",,\n}", want: []string{"line 2, column 26: invalid character ','"}},
		{name: "trailing comment", file: "{\n  \"ping_interval\": \"2s\" // two seconds\n}", want: []string{"line 2, column 26", "comments go on lines of their own"}},
		{name: "wrong type duration", file: `{"pong_timeout": 2000}`, want: []string{`pong_timeout: want a duration string such as "2s" or "500ms", got 2000`}},
		{name: "wrong type number", file: `{"backoff_jitter": "half"}`, want: []string{`backoff_jitter: want a number such as 2 or 0.5, got "half"`}},
		{name: "bad duration", file: `{"backoff_max": "ten seconds"}`, want: []string{`backoff_max: "ten seconds" is not a duration`}},
		{name: "unknown field", file: `{"ping_intervall": "2s"}`, want: []string{`unknown field "ping_intervall"; the fields are ping_interval, pong_timeout`}},
		{name: "out of range in file", file: `{"backoff_jitter": 3}`, want: []string{"profile.json: backoff_jitter is 3; want a fraction from 0 (none) to 1"}},
		{name: "not an object", file: `[1, 2]`, want: []string{"want a JSON object of profile fields, got a array"}},
		{name: "empty", file: "\n// nothing\n", want: []string{"empty: want a JSON object"}},
		{name: "two values", file: `{} {}`, want: []string{"more than one JSON value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--out", out}, tc.args...)
			if tc.file != "" {
				args = append(args, "--client-cmd", "x", "--client-profile", writeFile(t, tc.file))
			}
			code, stdout, stderr := runCLI(t, args...)
			assert.Equal(t, exitUsage, code, "stderr: %s", stderr)
			assert.Empty(t, stdout, "nothing ran")
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
}

// A good file, comments and all, declares the profile; flags override it;
// fields left out keep the reference profile's values.
func TestProfileFileAndFlags(t *testing.T) {
	path := writeFile(t, `// my client
{
  // heartbeat
  "ping_interval": "25s",
    // indented comment
  "pong_timeout": "5s",
  "backoff_jitter": 0
}
`)
	cfg, code, ok := parseRun([]string{"--out", t.TempDir(), "--client-cmd", "node c.js", "--client-profile", path, "--backoff-max", "30s", "--clients", "20"}, os.Stderr)
	require.True(t, ok, "code %d", code)
	p := cfg.outside.declared
	require.NotNil(t, p)
	ref := scenarios.DeclaredAt(1)
	assert.Equal(t, harness.Profile{PingInterval: 25 * time.Second, PongTimeout: 5 * time.Second, HandshakeTimeout: ref.HandshakeTimeout,
		BackoffInitial: ref.BackoffInitial, BackoffMax: 30 * time.Second, BackoffMultiplier: ref.BackoffMultiplier, BackoffJitter: 0}, *p)
	assert.Equal(t, 20, cfg.outside.clients)
	replay := cfg.replay()
	assert.Contains(t, replay, "--ping-interval 25s --pong-timeout 5s --handshake-timeout 1s --backoff-initial 100ms --backoff-max 30s --backoff-multiplier 2 --backoff-jitter 0 --clients 20")
	assert.NotContains(t, replay, "--client-profile", "the replay states the profile in full")

	got := cfg.outside.declaredProfile()
	assert.Equal(t, &result.Profile{PingIntervalMS: 25000, PongTimeoutMS: 5000, HandshakeTimeoutMS: 1000,
		Backoff: result.BackoffPolicy{InitialMS: 100, MaxMS: 30000, Multiplier: 2, Jitter: 0}}, got)

	p2, err := cfg.plan(os.Stderr)
	require.NoError(t, err)
	assert.Equal(t, got, p2.subjects[0].info.Profile, "the client records what it declared")
	for _, sc := range p2.list {
		if sc.Name == "MassDrop" {
			assert.Equal(t, 20, sc.Clients)
			assert.Equal(t, 90*time.Second, sc.Faults[0].For, "3 x the declared 30 s cap")
		}
	}
	assert.Len(t, p2.list, len(scenarios.Catalog()), "outside clients run every scenario, several clients included")
}

// wschaos profile prints a template that, as printed, reads back as the
// profile an undeclared client is held to.
func TestProfileTemplate(t *testing.T) {
	code, stdout, _ := runCLI(t, "profile")
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "// A wschaos client profile")
	p := harness.Profile{}
	require.NoError(t, parseProfile([]byte(stdout), &p))
	assert.Equal(t, scenarios.DeclaredAt(1), p)
	var fields map[string]any
	var stripped []string
	for _, l := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "//") {
			stripped = append(stripped, l)
		}
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Join(stripped, "\n")), &fields), "plain JSON once comment lines are dropped")
	assert.Len(t, fields, 7)

	code, stdout, _ = runCLI(t, "profile", "--timescale", "3")
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, `"ping_interval": "600ms"`)
	code, _, stderr := runCLI(t, "profile", "--timescale", "0")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--timescale 0: want 0.5 to 1000")
}

// `wschaos run --client-cmd ... --clients 20 --scenario MassDrop` holds 20
// processes of the command to the scenario, measures every one of them and
// leaves none behind. The command is this test binary's plain client.
func TestRunManyOutsideClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs MassDrop with 20 outside processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	out := t.TempDir()
	cmd := shellQuote(exe) + " -test.run=^TestHelperPlainEcho$ -test.count=1"
	code, stdout, stderr := runCLI(t, "run", "--out", out, "--scenario", "^MassDrop$", "--seed", "7", "--client-cmd", cmd, "--clients", "20",
		"--ping-interval", "0", "--backoff-initial", "50ms", "--backoff-max", "50ms", "--backoff-multiplier", "1", "--backoff-jitter", "0")
	require.Contains(t, []int{exitOK, exitFail}, code, "stderr: %s", stderr)
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	require.NoError(t, err)
	var res result.Result
	require.NoError(t, json.Unmarshal(b, &res))
	require.Len(t, res.Scenarios, 1)
	sc := res.Scenarios[0]
	require.Empty(t, sc.Error, "the run is valid: warmed up, fault applied")
	assert.Equal(t, 20, sc.Clients)
	require.Len(t, sc.Measured.PerClient, 20, "every client measured")
	for _, f := range sc.Measured.PerClient {
		assert.NotNil(t, f.RecoverMS, "%s recovered", f.Client)
	}
	assert.True(t, res.Clients[0].Plain, "it never said hello")
	assert.Contains(t, stdout, "MassDrop")
	pids := 0
	for _, e := range sc.Timeline {
		if e.Kind == result.KindOutside {
			pids++
			// Zombies do not count: where the container's init does not
			// reap orphans they stay in the table, exited.
			ps, err := exec.Command("ps", "-e", "-o", "pgid=,stat=").Output()
			require.NoError(t, err)
			for _, line := range strings.Split(string(ps), "\n") {
				f := strings.Fields(line)
				if len(f) == 2 && f[0] == strconv.Itoa(e.PID) {
					assert.True(t, strings.HasPrefix(f[1], "Z"), "a process of client group %d still running (%s)", e.PID, f[1])
				}
			}
		}
	}
	assert.Equal(t, 20, pids)
}

// TestHelperPlainEcho is not a test: it is the plain WebSocket client
// TestRunManyOutsideClients holds to the catalogue (no heartbeat, a fixed
// 50 ms reconnect).
func TestHelperPlainEcho(t *testing.T) {
	url := os.Getenv(harness.EnvURL)
	if url == "" {
		t.Skip("helper process for TestRunManyOutsideClients")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := plainclient.Run(ctx, plainclient.Options{URL: url, CAFile: os.Getenv(harness.EnvCAFile)}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0) // skip the parent's leak check and test summary
}
