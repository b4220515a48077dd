//go:build unix && !linux

package supervise

import "syscall"

// Without a subreaper, orphans go to init and are out of reach.
func becomeSubreaper() {}

func groupAttrs() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// endDescendants cannot find processes that left the group here.
func endDescendants() []proc { return nil }
