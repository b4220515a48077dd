// Package fdlimit reads the process's open-file limit, from which the wire
// tap and the fake server derive their default connection limits, and how
// many descriptors the process holds.
package fdlimit

import "os"

// Soft returns the soft RLIMIT_NOFILE: how many descriptors this process
// may hold open. ok is false where the system has no such limit or it
// cannot be read (then callers use a fixed default).
//
// Go raises the soft limit to the hard one at start-up on Linux and the
// BSDs, so this is the limit the process really runs under.
func Soft() (n int, ok bool) { return soft() }

// Exhausted reports whether err says the process or the system ran out of
// descriptors (EMFILE or ENFILE).
func Exhausted(err error) bool { return exhausted(err) }

// Open returns how many descriptors this process holds open, from
// /proc/self/fd; ok is false without it (not Linux). Since Linux 6.2 the
// directory's size is that count, which costs the kernel next to nothing;
// on older kernels (size 0) the directory is listed, which costs time in
// proportion to the descriptors open (about 5 ms for 12,000 here).
func Open() (n int, ok bool) {
	if fi, err := os.Stat("/proc/self/fd"); err == nil && fi.Size() > 0 {
		return int(fi.Size()), true
	}
	return listed()
}

// listed counts the entries of /proc/self/fd.
func listed() (n int, ok bool) {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(4096)
		n += len(names)
		if err != nil || len(names) == 0 {
			break
		}
	}
	return n - 1, true // not the descriptor reading the directory
}
