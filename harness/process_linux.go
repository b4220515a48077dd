package harness

import "syscall"

// childAttrs puts an outside client (or its supervisor) in a process group
// of its own, so it is stopped with everything it started, and has the
// kernel send it SIGTERM if the harness dies first, even by SIGKILL: a
// supervisor then ends the client and whatever it left behind.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
