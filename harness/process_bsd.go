//go:build unix && !linux

package harness

import "syscall"

// childAttrs puts an outside client in a process group of its own, so it is
// stopped with everything it started. There is no parent-death signal here:
// a client outlives a harness killed with SIGKILL.
func childAttrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
