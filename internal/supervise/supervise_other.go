//go:build !unix

package supervise

import (
	"os"
	"os/exec"
	"syscall"
)

func becomeSubreaper() {}

func groupAttrs() *syscall.SysProcAttr { return nil }

// signalGroup has no groups to signal here; the command is ended with the
// supervisor.
func signalGroup(int, syscall.Signal) {}

func signalNumber(os.Signal) int { return 15 }

func signalOf(*exec.ExitError) int { return 9 }

func endDescendants() []proc { return nil }
