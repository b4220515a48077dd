//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientScript starts a child in a session of its own (out of the client's
// process group, as a daemon would), a plain child, and then waits; it
// writes every pid to pidfile. It never connects, so the run waits for it.
func clientScript(pidfile string) string {
	return "setsid sleep 300 & echo $! >> " + pidfile + "; sleep 300 & echo $! >> " + pidfile + "; echo $$ >> " + pidfile + "; wait"
}

func readPIDs(t *testing.T, pidfile string, want int) []int {
	t.Helper()
	var pids []int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return false
		}
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return len(pids) >= want
	}, 20*time.Second, 20*time.Millisecond, "the client never wrote its pids")
	return pids
}

// running reports whether pid is alive and not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

func allGone(pids []int) bool {
	for _, p := range pids {
		if running(p) {
			return false
		}
	}
	return true
}

// Killing wschaos run with SIGKILL leaves no client process behind: not the
// shell, not its child, not a child that left the process group.
func TestNoClientOutlivesKilledRun(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pids")
	cmd := exec.Command(os.Args[0], "run", "--scenario", "^LongOutage$", "--out", filepath.Join(dir, "out"),
		"--client-cmd", clientScript(pidfile))
	cmd.Env = append(os.Environ(), asWschaos+"=1")
	require.NoError(t, cmd.Start())
	pids := readPIDs(t, pidfile, 3)
	require.True(t, running(pids[0]), "the setsid child runs")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	assert.Eventually(t, func() bool { return allGone(pids) }, 10*time.Second, 20*time.Millisecond,
		"client processes %v still running after wschaos was killed", pids)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL) // never leave them behind, whatever the verdict
	}
}

// A normal run ends a child that left the client's process group, and says
// which it ended.
func TestSetsidChildEndedAndNamed(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pids")
	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI(t, "run", "--scenario", "^LongOutage$", "--out", out, "--client-cmd", clientScript(pidfile))
	assert.Equal(t, exitFail, code, "the client never connects: an invalid run; stderr:\n%s", stderr)
	pids := readPIDs(t, pidfile, 3)
	defer func() {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}()
	assert.True(t, allGone(pids), "client processes %v still running after the run", pids)
	data, err := os.ReadFile(filepath.Join(out, "result.json"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "wschaos: ended pid "+strconv.Itoa(pids[0]), "the setsid child is named on the timeline")
}
