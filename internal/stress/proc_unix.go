//go:build unix

package stress

import "syscall"

// killGroup kills the process group pid leads: the worker and whatever it
// started.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
