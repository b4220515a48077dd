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
