// Package examples holds the example outside clients and the test that
// runs them through the wschaos command as a user would.
package examples

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

// nodeClient returns the command line of the example client in dir, or
// skips when Node.js or its ws module is missing (npm install in that
// directory brings it).
func nodeClient(t *testing.T, dir string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: install Node.js to run the ws examples")
	}
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	check := exec.Command(node, "-e", "require.resolve('ws')")
	check.Dir = abs
	if check.Run() != nil {
		t.Skipf("the ws module is not installed: run npm install in %s", dir)
	}
	return node + " " + filepath.Join(abs, "client.js")
}

// wschaos builds the command into a temporary directory.
func wschaos(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wschaos")
	build := exec.Command("go", "build", "-o", bin, "github.com/wschaos/wschaos/cmd/wschaos")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// run runs wschaos run with args and returns its result, which it must
// write whatever the verdict: exit 0 or 1, never a usage or setup error.
func run(t *testing.T, args ...string) result.Result {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(wschaos(t), append([]string{"run", "--out", out, "--seed", "1"}, args...)...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
		require.NoError(t, err, "wschaos run must judge, not fail to run; stderr:\n%s", stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	require.NoError(t, err)
	var res result.Result
	require.NoError(t, json.Unmarshal(b, &res))
	return res
}

func scenario(t *testing.T, res result.Result, name string) result.Scenario {
	t.Helper()
	for _, s := range res.Scenarios {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "scenario not run", "%s", name)
	return result.Scenario{}
}

func check(t *testing.T, s result.Scenario, name string) result.Check {
	t.Helper()
	for _, c := range s.Checks {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no such check", "%s has no check %s: %+v", s.Name, name, s.Checks)
	return result.Check{}
}

// valid: the scenario warmed up and its faults took effect.
func valid(t *testing.T, s result.Scenario) {
	t.Helper()
	assert.Empty(t, s.Error, "%s: the run must be valid", s.Name)
	for _, c := range s.Checks {
		if c.Name == "valid-run" || c.Name == "faults-applied" {
			assert.NotEqual(t, result.Fail, c.Verdict, "%s: %s: %s", s.Name, c.Name, c.Got)
		}
	}
}

// The ws client with no heartbeat and a fixed 1 s reconnect, held to the
// profile it declares, over the whole catalogue (20 processes where a
// scenario runs several): every run is valid; what it does is measured;
// what it cannot do fails with the reason; no process outlives its
// scenario.
func TestNodeWS(t *testing.T) {
	client := nodeClient(t, "node-ws")
	res := run(t, "--client-cmd", client, "--clients", "20",
		"--ping-interval", "0", "--backoff-initial", "1s", "--backoff-max", "1s", "--backoff-multiplier", "1", "--backoff-jitter", "0")
	require.NotEmpty(t, res.Scenarios)
	assert.True(t, res.Clients[0].Plain, "it never says hello")
	assert.Zero(t, res.Clients[0].Profile.PingIntervalMS, "it declared no heartbeat")
	for _, s := range res.Scenarios {
		valid(t, s)
	}
	for _, name := range []string{"ProxyDownFIN", "AbruptClose1006"} {
		s := scenario(t, res, name)
		assert.Equal(t, result.Pass, s.Verdict, "%s: %+v", name, s.Checks)
		require.NotNil(t, s.Measured.DetectMS, name)
		require.NotNil(t, s.Measured.RecoverMS, name)
		assert.Equal(t, 1, s.Measured.Attempts, name)
		assert.Equal(t, result.ViaWire, s.Measured.Via, name)
		require.NotEmpty(t, s.Measured.Delays, "%s: its retry delay, against its declared policy", name)
		assert.True(t, s.Measured.Delays[0].InPolicy, "%s: %+v", name, s.Measured.Delays[0])
	}
	for _, name := range []string{"BlackHoleHalfOpen", "MutedPongs"} {
		s := scenario(t, res, name)
		assert.Equal(t, result.Fail, s.Verdict, name)
		detect := check(t, s, "detect")
		assert.Equal(t, result.Fail, detect.Verdict, name)
		assert.True(t, strings.HasPrefix(detect.Got, "never detected within"), "%s: got %q", name, detect.Got)
	}
	s := scenario(t, res, "Reject401")
	assert.Equal(t, result.Fail, s.Verdict)
	stops := check(t, s, "no-retry-after-fatal")
	assert.Equal(t, result.Fail, stops.Verdict)
	assert.Contains(t, stops.Margin, "kept dialling", "it retried after the 401")

	mass := scenario(t, res, "MassDrop")
	require.Len(t, mass.Measured.PerClient, 20)
	for _, f := range mass.Measured.PerClient {
		assert.NotNil(t, f.DetectMS, "%s: its loss, on its own tap", f.Client)
		assert.NotNil(t, f.RecoverMS, "%s: back", f.Client)
	}
	assert.Equal(t, result.NotApplicable, check(t, mass, "continuity").Verdict, "a plain client cannot show continuity")
	for _, s := range res.Scenarios {
		for _, e := range s.Timeline {
			if e.Kind == result.KindOutside {
				assert.False(t, groupRunning(e.PID), "%s: a process of client group %d is still running", s.Name, e.PID)
			}
		}
	}
}

// groupRunning reports whether a process of group pgid is running.
// Zombies do not count: where a container's init does not reap orphans
// they stay in the table, exited.
func groupRunning(pgid int) bool {
	out, err := exec.Command("ps", "-e", "-o", "pgid=,stat=").Output()
	if err != nil {
		panic("ps: " + err.Error())
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == strconv.Itoa(pgid) && !strings.HasPrefix(f[1], "Z") {
			return true
		}
	}
	return false
}

// The same client with a 2 s ping, declared as such, passes the half-open
// scenarios, over wss:// too.
func TestNodeWSPing(t *testing.T) {
	client := nodeClient(t, "node-ws-ping")
	res := run(t, "--client-cmd", client, "--scenario", "^(BlackHoleHalfOpen|MutedPongs|TLSBlackHole)$",
		"--ping-interval", "2s", "--pong-timeout", "2s", "--backoff-initial", "1s", "--backoff-max", "1s", "--backoff-multiplier", "1", "--backoff-jitter", "0")
	require.Len(t, res.Scenarios, 3)
	for _, s := range res.Scenarios {
		valid(t, s)
		assert.Equal(t, result.Pass, s.Verdict, "%s: %+v", s.Name, s.Checks)
		detect := check(t, s, "detect")
		assert.InDelta(t, 4000, detect.Limit-400-25, 1e-9, "%s: held to its own 2 s + 2 s", s.Name)
		assert.Greater(t, s.Faults[0].EndMS-s.Faults[0].StartMS, detect.Limit, "%s: the fault outlasts what it promises", s.Name)
	}
}
