//go:build stress

package scenarios

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/internal/stress"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

// TestStress runs a few hundred reference clients over two worker
// processes under a seeded random fault schedule and requires every stress
// target to be met. It only builds with -tags stress:
//
//	go test -tags stress -run TestStress -timeout 30m ./scenarios/...
//
// WSCHAOS_STRESS_CLIENTS sets the number of clients (default 300),
// WSCHAOS_TIMESCALE the time scale, and WSCHAOS_STRESS_OUT a directory to
// write the report to (result.json, index.html, junit.xml).
func TestStress(t *testing.T) {
	clients := 300
	if v := os.Getenv("WSCHAOS_STRESS_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "WSCHAOS_STRESS_CLIENTS")
		clients = n
	}
	k := testScale(t)
	// The workers are the real command: build it once.
	bin := filepath.Join(t.TempDir(), "wschaos")
	build := exec.CommandContext(t.Context(), goTool(), "build", "-o", bin, "github.com/wschaos/wschaos/cmd/wschaos")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "build the wschaos command for the workers")

	duration := time.Duration(float64(45*time.Second) * k)
	rep, err := stress.Run(t.Context(), stress.Options{
		Clients: clients, Workers: 2, Duration: duration, Seed: seed, Timescale: k,
		WorkerCommand: []string{bin, "worker"}, ShardCommand: []string{bin, "shard"}, ChainShards: 2, ToxiproxyURL: os.Getenv("TOXIPROXY_URL"),
		Progress: testWriter{t},
	})
	require.NoError(t, err)
	sc := rep.Scenario
	if dir := os.Getenv("WSCHAOS_STRESS_OUT"); dir != "" {
		res := &result.Result{Schema: result.Schema, GeneratedAt: time.Now().UTC(), Verdict: sc.Verdict,
			Run: result.RunInfo{GoVersion: runtime.Version(), ToxiproxyMode: rep.ToxiproxyMode,
				Seed: seed, Command: "go test -tags stress -run TestStress ./scenarios/...", DurationMS: sc.DurationMS, Timescale: k},
			Scenarios: []result.Scenario{sc}}
		require.NoError(t, reports.WriteFiles(dir, res))
	}
	require.Empty(t, sc.Error, "the stress run could not run")
	for _, c := range sc.Checks {
		assert.Equal(t, result.Pass, c.Verdict, "%s: got %s, want %s (%s)", c.Name, c.Got, c.Want, c.Margin)
	}
	assert.Equal(t, result.Pass, sc.Verdict)
	for _, f := range sc.Stress.Faults {
		t.Logf("%-14s lost %d/%d, detect p99 %.0f ms, recover p50 %.0f p99 %.0f max %.0f ms",
			f.Kind, f.Disconnected, clients, f.Detect.P99, f.Recover.P50, f.Recover.P99, f.Recover.Max)
	}
	for _, r := range sc.Stress.Resources {
		t.Logf("%-12s cpu %.1fs, peak rss %d MiB, peak goroutines %d, peak fds %d",
			r.Process, r.CPUSeconds, r.PeakRSSBytes>>20, r.PeakGoroutines, r.PeakFDs)
	}
}

// goTool is the go command of the toolchain running the test.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
