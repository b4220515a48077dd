package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/leaktest"
	"github.com/wschaos/wschaos/result"
)

func TestMain(m *testing.M) {
	// The test binary stands in for the wschaos binary when it starts
	// itself: as the supervisor of outside clients (run passes
	// os.Executable()), or as a whole wschaos run that a test kills.
	if floodChild() {
		return // the test binary ran as a flood's child
	}
	if len(os.Args) > 1 && os.Args[1] == "supervise" {
		os.Exit(cmdSupervise(os.Args[2:], os.Stderr))
	}
	if os.Getenv(asWschaos) == "1" {
		harness.QuietToxiproxy()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	harness.QuietToxiproxy()
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

// asWschaos makes the test binary run as the wschaos command.
const asWschaos = "WSCHAOS_TEST_AS_WSCHAOS"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"run", "--scenario", "["}, "not a valid regular expression"},
		{[]string{"run", "--scenario", "NoSuchScenario"}, "matches no scenario"},
		{[]string{"run", "--timescale", "0"}, "--timescale 0: want 0.5 to 1000"},
		{[]string{"run", "--timescale", "1e-300"}, "--timescale 1e-300: want 0.5 to 1000"},
		{[]string{"run", "--timescale", "NaN"}, "--timescale NaN: want 0.5 to 1000"},
		{[]string{"run", "--parallel", "0"}, "--parallel 0: want 1 to 64"},
		{[]string{"run", "--client-cmd", ""}, "--client-cmd is empty"},
		{[]string{"run", "--client-cmd", "  "}, "--client-cmd is empty"},
		{[]string{"run", "--client-cmd", "node c.js", "--mutants"}, "do not mix"},
		{[]string{"report", "a.json", "b.json"}, `unexpected argument "b.json"`},
		{[]string{"report", "-o", "x.html", "a.json", "b.json"}, `unexpected argument "b.json"`},
		{[]string{"run", "extra"}, `unexpected argument "extra"`},
		{[]string{"list", "--yaml"}, "flag provided but not defined"},
		{[]string{"report"}, "name a result file"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

func TestListJSON(t *testing.T) {
	code, stdout, _ := runCLI(t, "list", "--json")
	require.Equal(t, exitOK, code)
	var entries []struct {
		Name        string   `json:"name"`
		Faults      []string `json:"faults"`
		Description string   `json:"description"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &entries))
	names := map[string][]string{}
	for _, e := range entries {
		names[e.Name] = e.Faults
		assert.NotEmpty(t, e.Description, e.Name)
	}
	assert.Equal(t, []string{"proxy-down"}, names["ProxyDownFIN"])
	assert.Equal(t, []string{"black-hole"}, names["BlackHoleHalfOpen"])
	assert.Contains(t, names, "MassDrop")

	code, stdout, _ = runCLI(t, "list")
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "LatencySpike")
}

func TestReportRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	require.NoError(t, os.WriteFile(corrupt, []byte(`{"schema": "wschaos.result/v1", "scenarios": [`), 0o644))
	code, _, stderr := runCLI(t, "report", corrupt, "-o", filepath.Join(dir, "x.html"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "wschaos report:")

	wrong := filepath.Join(dir, "wrong.json")
	require.NoError(t, os.WriteFile(wrong, []byte(`{"schema": "other/v9", "scenarios": []}`), 0o644))
	code, _, stderr = runCLI(t, "report", wrong)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "other/v9")

	code, _, stderr = runCLI(t, "report", filepath.Join(dir, "missing.json"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "missing.json")
}

// One real scenario end to end: the files are written, and re-rendering the
// stored result gives the same page.
func TestRunWritesReport(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--scenario", "^LatencySpike$", "--seed", "7", "--out", out)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "LatencySpike")
	assert.Contains(t, stdout, "Replay: wschaos run --seed 7 --scenario '^LatencySpike$'")
	assert.Contains(t, stdout, "PASS: 1 passed, 0 failed, 0 n/a")
	for _, f := range []string{"result.json", "index.html", "junit.xml"} {
		info, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		assert.Positive(t, info.Size(), f)
	}
	again := filepath.Join(out, "again.html")
	code, _, stderr = runCLI(t, "report", filepath.Join(out, "result.json"), "-o", again)
	require.Equal(t, exitOK, code, stderr)
	first, err := os.ReadFile(filepath.Join(out, "index.html"))
	require.NoError(t, err)
	second, err := os.ReadFile(again)
	require.NoError(t, err)
	assert.Equal(t, string(first), string(second), "a stored result must re-render identically")
}

// Usage problems are found before any work: an output path that is a file
// or cannot be created costs nothing and says so.
func TestOutCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "report.txt")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	for _, out := range []string{file, filepath.Join(file, "sub")} {
		start := time.Now()
		code, _, stderr := runCLI(t, "run", "--out", out, "--scenario", "^LongOutage$")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "--out "+out)
		assert.Less(t, time.Since(start), 2*time.Second, "refused before the run, not after it")
	}
}

// A result file that never ends (or is merely huge) is refused at once, in
// bounded memory, not read whole.
func TestReportHugeInput(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte(" "), 2<<20), 0o644))
	code, _, stderr := runCLI(t, "report", big, "--max-input-mb", "1", "-o", filepath.Join(dir, "x.html"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "too large")

	if _, err := os.Stat("/dev/zero"); err == nil {
		start := time.Now()
		code, _, stderr = runCLI(t, "report", "/dev/zero", "-o", filepath.Join(dir, "y.html"))
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "corrupt result")
		assert.Less(t, time.Since(start), 5*time.Second)
	}

	arr := filepath.Join(dir, "array.json")
	require.NoError(t, os.WriteFile(arr, []byte(`[{"schema": "wschaos.result/v2"}]`), 0o644))
	code, _, stderr = runCLI(t, "report", arr, "-o", filepath.Join(dir, "z.html"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "the input is a JSON array, want an object")
	assert.NotContains(t, stderr, "result.Result")
}

// The printed replay line is safe to paste: a hostile value comes back as
// one argument and runs nothing.
func TestReplayLineIsShellSafe(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no POSIX shell")
	}
	canary := filepath.Join(t.TempDir(), "pwned")
	pattern := "^LatencySpike$|x'$(touch " + canary + ")'"
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--scenario", pattern, "--seed", "3", "--out", out)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	_, line, ok := strings.Cut(stdout, "Replay: ")
	require.True(t, ok, stdout)
	line = strings.TrimSpace(line)
	// The shell splits the line into words; print them one per line.
	argv, err := exec.Command(sh, "-c", "set -- "+line+"; printf '%s\\n' \"$@\"").Output()
	require.NoError(t, err)
	assert.Equal(t, []string{"wschaos", "run", "--seed", "3", "--scenario", pattern}, strings.Split(strings.TrimSuffix(string(argv), "\n"), "\n"))
	assert.NoFileExists(t, canary, "the replay line ran a command")
	res, err := result.ReadFile(filepath.Join(out, "result.json"), result.ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, line, res.Run.Command, "the stored line is the printed one")
}

// An interrupted run writes what it measured, marks the scenario that was
// cut short as interrupted and those never started as not run, and exits
// with its own status.
func TestInterruptedRun(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(1500*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"run", "--scenario", "^(LongOutage|Flapping|ResumeGap)$", "--parallel", "1", "--seed", "1", "--out", out}, &stdout, &stderr)
	assert.Equal(t, exitInterrupted, code, "stderr:\n%s", stderr.String())
	res, err := result.ReadFile(filepath.Join(out, "result.json"), result.ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, result.Interrupted, res.Verdict)
	assert.True(t, res.Run.Interrupted)
	verdicts := map[result.Verdict]int{}
	for _, s := range res.Scenarios {
		verdicts[s.Verdict]++
	}
	assert.Equal(t, map[result.Verdict]int{result.Interrupted: 1, result.NotRun: 2}, verdicts)
	assert.Equal(t, 1, res.Summary.Interrupted)
	assert.Equal(t, 2, res.Summary.NotRun)
	assert.Zero(t, res.Summary.Failed, "an interrupted scenario is not a failure")
	assert.Contains(t, stdout.String(), "INTERRUPTED")
}
