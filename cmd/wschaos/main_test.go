package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/leaktest"
)

func TestMain(m *testing.M) {
	harness.QuietToxiproxy()
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

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
