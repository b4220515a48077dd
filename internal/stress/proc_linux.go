package stress

import (
	"os/exec"
	"syscall"
)

// setWorkerAttrs puts a worker in its own process group, so that it and
// anything it starts can be killed together, and has the kernel kill it if
// the coordinator dies first.
func setWorkerAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
