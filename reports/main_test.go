package reports

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// Chromium tests start a browser and copy its output.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
