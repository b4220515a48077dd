//go:build unix && !linux

package supervise

import (
	"os"
	"os/exec"
	"syscall"
)

// Without a subreaper, orphans go to init and are out of reach.
func becomeSubreaper() {}

func groupAttrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(pgid int, sig syscall.Signal) { _ = syscall.Kill(-pgid, sig) }

func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return 15
}

func signalOf(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal())
	}
	return 9
}

type proc struct {
	pid     int
	cmdline string
}

// endDescendants cannot find processes that left the group here.
func endDescendants() []proc { return nil }
