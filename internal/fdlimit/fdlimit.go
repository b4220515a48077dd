// Package fdlimit reads the process's open-file limit, from which the wire
// tap and the fake server derive their default connection limits.
package fdlimit

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
