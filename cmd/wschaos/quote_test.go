package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile values survive a round trip through a real shell: the quoted line
// prints them back byte for byte and runs nothing else.
func TestShellQuoteIsSafe(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no POSIX shell here")
	}
	canary := filepath.Join(t.TempDir(), "pwned")
	for _, v := range []string{
		"plain", "", "two words", "x'$(touch " + canary + ")'", `"; touch ` + canary + `; "`,
		"`touch " + canary + "`", "$HOME", "a\nb", "it's", `back\slash`, "*", "~", "-n", "'", "''",
	} {
		line := "printf '%s' " + shellQuote(v)
		out, err := exec.Command(sh, "-c", line).Output()
		require.NoError(t, err, line)
		assert.Equal(t, v, string(out), line)
	}
	assert.NoFileExists(t, canary, "a quoted value ran a command")
}

func TestCommandLine(t *testing.T) {
	assert.Equal(t, "wschaos run --seed 7 --scenario '^Latency$'", commandLine("wschaos", "run", "--seed", "7", "--scenario", "^Latency$"))
	assert.Equal(t, `--client-cmd 'node x.js '\''a'\'''`, commandLine("--client-cmd", "node x.js 'a'"))
}
