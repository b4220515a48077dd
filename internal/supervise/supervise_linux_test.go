package supervise

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that exits and leaves a child in a session of its own: the
// supervisor ends that child and names it.
func TestLeftoverEndedAndNamed(t *testing.T) {
	dir := t.TempDir()
	pidfile := dir + "/pid"
	var stderr bytes.Buffer
	status := Main([]string{"sh", "-c", "setsid sleep 300 & echo $! > " + pidfile}, &stderr)
	assert.Equal(t, 0, status)
	b, err := os.ReadFile(pidfile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	_, alive := parentOf(pid)
	assert.False(t, alive, "pid %d still running", pid)
	// The command line is read as the process is ended: setsid may or may
	// not have executed sleep by then.
	assert.Contains(t, stderr.String(), "wschaos: ended pid "+strconv.Itoa(pid)+" (")
	assert.Contains(t, stderr.String(), "sleep 300), which the client left running")
}

func TestParentOf(t *testing.T) {
	ppid, ok := parentOf(os.Getpid())
	require.True(t, ok)
	assert.Equal(t, os.Getppid(), ppid)
	_, ok = parentOf(1 << 30)
	assert.False(t, ok)
}
