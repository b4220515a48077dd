//go:build !linux

package stress

import (
	"os/exec"
	"syscall"
)

// setWorkerAttrs puts a worker in its own process group, so that it and
// anything it starts can be killed together.
func setWorkerAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
