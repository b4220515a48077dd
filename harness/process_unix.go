//go:build unix

package harness

import (
	"context"
	"errors"
	"github.com/wschaos/wschaos/result"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is an outside client: a program started in its own process group,
// so that the harness can stop it together with every process it started.
type process struct {
	cmd  *exec.Cmd
	pid  int // also the process group id
	done chan struct{}
	err  error // what Wait returned; read after done is closed
	// grace is how long stop waits after SIGTERM: longer for a supervisor,
	// which needs its own grace to end the client's group first.
	grace time.Duration
}

// startProcess starts argv with env in a new process group; each line it
// writes to stdout or stderr goes to onLine. When ctx ends the group gets
// SIGTERM. One goroutine waits for the program and closes done; stop must be
// called to end the group and wait for it.
func startProcess(ctx context.Context, argv, env []string, onLine func(kind result.Kind, line string)) (*process, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = childAttrs()
	out := &lineWriter{kind: result.KindStdout, onLine: onLine}
	errw := &lineWriter{kind: result.KindStderr, onLine: onLine}
	cmd.Stdout, cmd.Stderr = out, errw
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	// A grandchild holding stdout open must not keep Wait from returning.
	cmd.WaitDelay = killGrace
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), grace: killGrace}
	go func() {
		p.err = cmd.Wait()
		out.flush()
		errw.flush()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, waits up to its grace for the
// program and every other member of the group to exit, then sends SIGKILL to
// the group, and waits for the program. A process that left the group
// (setsid) is out of reach here; the supervisor (RunOptions.Supervisor)
// finds those.
func (p *process) stop() {
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	deadline := time.Now().Add(p.grace)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			if !groupAlive(p.pid) {
				return
			}
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.done
	// SIGKILL is delivered asynchronously: see the group gone, within reason.
	for range 50 {
		if !groupAlive(p.pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupAlive reports whether any process of group pgid is still running.
// Zombies do not count: they have exited, and where the init process does
// not reap orphans (some containers) they stay in the table for good.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if running, group := procState(e.Name()); running && group == pgid {
			return true
		}
	}
	return false
}

// procState reads /proc/PID/stat: whether the process is running (not a
// zombie) and its process group.
func procState(pid string) (running bool, pgid int) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false, 0
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false, 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return false, 0
	}
	g, _ := strconv.Atoi(f[2])
	return f[0] != "Z" && f[0] != "X", g
}
