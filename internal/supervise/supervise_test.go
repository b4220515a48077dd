package supervise

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMainRefusesNoCommand(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 2, Main(nil, &stderr))
	assert.Contains(t, stderr.String(), "no command")
}

// The command's own exit status comes back, and a command that cannot be
// started is reported.
func TestMainExitStatus(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 0, Main([]string{"true"}, &stderr))
	assert.Equal(t, 3, Main([]string{"sh", "-c", "exit 3"}, &stderr))
	assert.Equal(t, 127, Main([]string{"/nonexistent/wschaos-client"}, &stderr))
	assert.Contains(t, stderr.String(), "start /nonexistent/wschaos-client")
}
