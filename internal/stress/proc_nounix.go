//go:build !unix

package stress

import "os/exec"

// setWorkerAttrs does nothing where there are no process groups: a worker
// is killed on its own, and it exits when its stdin closes.
func setWorkerAttrs(*exec.Cmd) {}

// killGroup does nothing where there are no process groups; the caller
// kills the worker's process itself.
func killGroup(int) {}
