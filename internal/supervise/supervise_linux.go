package supervise

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

// becomeSubreaper makes orphans of this process's descendants its own
// children, so a process that left the client's group is still found.
func becomeSubreaper() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

func groupAttrs() *syscall.SysProcAttr {
	// The client dies with the supervisor too, should the supervisor be
	// killed outright.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// endDescendants kills every process descended from this one, reaps them,
// and returns them. It repeats until none is left, since a process may fork
// while its siblings are being killed; a few rounds are enough, as each
// kill is SIGKILL.
func endDescendants() []proc {
	var ended []proc
	seen := map[int]bool{}
	for round := 0; round < 10; round++ {
		ds := descendants(os.Getpid())
		if len(ds) == 0 {
			break
		}
		for _, p := range ds {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
			if !seen[p.pid] {
				seen[p.pid] = true
				ended = append(ended, p)
			}
		}
		reap(100 * time.Millisecond)
	}
	reap(0)
	return ended
}

// reap collects exited children (orphans reparented to this subreaper),
// waiting up to d for one to exit.
func reap(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case err != nil: // ECHILD: none left
			return
		case pid > 0:
			continue
		case time.Now().After(deadline):
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// descendants lists the processes whose chain of parents leads to root,
// from /proc.
func descendants(root int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			parent[pid] = ppid
		}
	}
	var out []proc
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				out = append(out, proc{pid: pid, cmdline: cmdline(pid)})
				break
			}
		}
	}
	return out
}

// parentOf reads the parent pid from /proc/PID/stat, whose second field
// (the command name, in parentheses) may itself hold spaces and
// parentheses: the fields after it start after the last ')'.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || f[0] == "Z" { // a zombie is already dead
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

func cmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		return "?"
	}
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
