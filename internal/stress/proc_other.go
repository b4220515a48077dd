//go:build unix && !linux

package stress

import (
	"os/exec"
	"syscall"
)

// setWorkerAttrs puts a worker in its own process group, so that it and
// anything it starts can be killed together. Without Linux's parent-death
// signal a worker whose coordinator was killed notices only when its stdin
// closes.
func setWorkerAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
