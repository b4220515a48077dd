package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

func TestStressUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stress"}, "--clients is required"},
		{[]string{"stress", "--clients", "10", "--duration", "3s"}, "too short"},
		{[]string{"stress", "--clients", "10", "--timescale", "-1"}, "timescale"},
		{[]string{"stress", "--clients", "10", "--workers", "-1"}, "workers -1"},
		{[]string{"stress", "--clients", "10", "extra"}, `unexpected argument "extra"`},
		{[]string{"worker", "extra"}, `unexpected argument "extra"`},
		{[]string{"shard", "extra"}, `unexpected argument "extra"`},
		{[]string{"stress", "--clients", "10", "--chain-shards", "-1"}, "chain shards -1"},
		{[]string{"stress", "--clients", "10", "--proxy", "nginx"}, `proxy "nginx"`},
		{[]string{"stress", "--clients", "10", "--shard", "2/2", "--seed", "1"}, `--shard "2/2": want I/N`},
		{[]string{"stress", "--clients", "10", "--shard", "x", "--seed", "1"}, `--shard "x"`},
		{[]string{"stress", "--clients", "10", "--shard", "0/2"}, "--shard needs --seed"},
		{[]string{"stress", "--clients", "10", "--start-at", "2026-11-29T10:00:00Z"}, "without --shard"},
		{[]string{"stress", "--clients", "10", "--shard", "0/2", "--seed", "1", "--start-at", "tomorrow"}, `--start-at "tomorrow"`},
		{[]string{"stress", "--clients", "2", "--shard", "2/3", "--seed", "1"}, "has no clients"},
		{[]string{"merge"}, "name the shard runs"},
		{[]string{"merge", "--max-input-mb", "0", "x"}, "--max-input-mb 0"},
		{[]string{"merge", "/no/such/dir"}, "no such file"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// TestStressInProcess runs the command end to end with its workers in
// process (the same protocol over pipes; the worker processes need the
// wschaos binary, which scenarios/stress_test.go builds).
func TestStressInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("about 15s")
	}
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "stress", "--clients", "20", "--duration", "12s", "--timescale", "0.5",
		"--seed", "5", "--in-process", "--workers", "2", "--out", dir)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "PASS: 20 clients, seed 5")
	assert.Contains(t, stderr, "stress: 20 clients, seed 5")
	res, err := result.ReadFile(filepath.Join(dir, reports.JSONFile), result.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, res.Scenarios, 1)
	assert.Equal(t, "Stress", res.Scenarios[0].Name)
	b, err := os.ReadFile(filepath.Join(dir, stressFile))
	require.NoError(t, err)
	var st struct {
		Clients int `json:"clients"`
		Faults  []struct {
			Kind string `json:"kind"`
		} `json:"faults"`
	}
	require.NoError(t, json.Unmarshal(b, &st))
	assert.Equal(t, 20, st.Clients)
	assert.NotEmpty(t, st.Faults)
}

// TestMergeBadInput: whatever is wrong with the inputs, merge says which
// and why and exits 2, never crashing or writing a report.
func TestMergeBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	corrupt := write("corrupt.json", `{"schema":"wschaos.result/v2","scenarios":[`)
	catalogue := write("catalogue.json", `{"schema":"wschaos.result/v2","verdict":"pass","scenarios":[{"name":"MassDrop","client":"reference","verdict":"pass"}]}`)
	big := write("big.json", `{"schema":"wschaos.result/v2","scenarios":[],"pad":"`+strings.Repeat("x", 2<<20)+`"}`)
	badInts := write("ints.json", `{"schema":"wschaos.result/v2","verdict":"pass","scenarios":[{"name":"Stress","client":"reference","verdict":"pass",`+
		`"stress":{"clients":1,"workers":1,"timescale":1,"seed":1,"duration_ms":1,"profile":"p","faults":[{"kind":"proxy-down","raw":{"detect_us":"1 two"}}]}}]}`)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"corrupt":   {[]string{corrupt}, "corrupt"},
		"catalogue": {[]string{catalogue}, "not a stress result"},
		"too big":   {[]string{"--max-input-mb", "1", big}, "too large"},
		"bad ints":  {[]string{badInts}, "item 2"},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+name)
			code, _, stderr := runCLI(t, append([]string{"merge", "--out", out}, tc.args...)...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.NoDirExists(t, out)
		})
	}
}

// TestMergeMatchesOneRun: a 300-client run split into two 150-client shard
// runs (separate processes, each with its own chain, the same seed and
// scheduled start) and merged gives the distributions of one 300-client
// run with the same seed, within noise. Every client draws the same jitter
// from the seed in both, so the figures differ only by scheduling: "within
// noise" is, for every fault and each of detect, redial and recover, the
// same number of clients with the figure and p50, p90 and p99 within
// 150 ms + 5 % of the single run's (measured: within 15 ms). The runs are
// the real command, built once, so the race detector's slowdown of this
// test binary does not reach them.
func TestMergeMatchesOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("three stress runs of about 45 s, side by side")
	}
	bin := filepath.Join(t.TempDir(), "wschaos")
	build := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	dir := t.TempDir()
	start := time.Now().Add(15 * time.Second).UTC().Format(time.RFC3339Nano)
	common := []string{"stress", "--clients", "300", "--duration", "30s", "--seed", "5"}
	runs := map[string][]string{
		"one": {"--out", filepath.Join(dir, "one")},
		"s0":  {"--shard", "0/2", "--start-at", start, "--out", filepath.Join(dir, "s0")},
		"s1":  {"--shard", "1/2", "--start-at", start, "--out", filepath.Join(dir, "s1")},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	outs := map[string]*bytes.Buffer{}
	for name, args := range runs {
		cmd := exec.CommandContext(ctx, bin, append(slices.Clone(common), args...)...)
		outs[name] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[name], outs[name]
		require.NoError(t, cmd.Start())
		wg.Go(func() { _ = cmd.Wait() })
	}
	wg.Wait()
	read := func(name string) *result.StressStats {
		r, err := result.ReadFile(filepath.Join(dir, name, reports.JSONFile), result.ReadOptions{})
		require.NoError(t, err, "%s:\n%s", name, outs[name])
		return r.Scenarios[0].Stress
	}
	one := read("one")
	read("s0")
	read("s1")
	code, stdout, stderr := runCLI(t, "merge", "--out", filepath.Join(dir, "merged"), filepath.Join(dir, "s0"), filepath.Join(dir, "s1"))
	require.Contains(t, []int{exitOK, exitFail}, code, "merge ran: %s\n%s", stdout, stderr)
	merged := read("merged")
	require.Equal(t, 300, merged.Clients)
	require.Len(t, merged.Merged, 2)
	require.Equal(t, len(one.Faults), len(merged.Faults), "the same schedule")
	near := func(what string, got, want float64) {
		tol := 150 + 0.05*want
		assert.InDelta(t, want, got, tol, "%s: merged %.0f ms, one run %.0f ms (within %.0f ms)", what, got, want, tol)
	}
	for i, f := range one.Faults {
		m := merged.Faults[i]
		require.Equal(t, f.Kind, m.Kind)
		assert.Equal(t, f.Disconnected, m.Disconnected, "f%d disconnected", i+1)
		assert.Equal(t, f.Recovered, m.Recovered, "f%d recovered", i+1)
		for _, d := range []struct {
			name      string
			one, merg result.Distribution
		}{{"detect", f.Detect, m.Detect}, {"redial", f.Redial, m.Redial}, {"recover", f.Recover, m.Recover}} {
			label := fmt.Sprintf("f%d-%s %s", i+1, f.Kind, d.name)
			assert.Equal(t, d.one.N, d.merg.N, "%s: clients with the figure", label)
			near(label+" p50", d.merg.P50, d.one.P50)
			near(label+" p90", d.merg.P90, d.one.P90)
			near(label+" p99", d.merg.P99, d.one.P99)
		}
		assert.Len(t, m.Shards, 2, "each shard run's chain timing of f%d", i+1)
	}
	t.Logf("one run:\n%s\nmerged:\n%s", outs["one"].String()[max(0, outs["one"].Len()-1500):], stdout)
}
