package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
