//go:build !unix

package fdlimit

func soft() (int, bool) { return 0, false }

// exhausted is false: without RLIMIT_NOFILE there is no EMFILE to read (on
// Windows, socket exhaustion shows as WSAENOBUFS, handled as any other
// accept error).
func exhausted(error) bool { return false }
