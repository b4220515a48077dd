//go:build unix

package stress

import "syscall"

// fdLimit is the soft limit on open descriptors, or 0 if unknown.
func fdLimit() int64 {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0
	}
	return int64(lim.Cur)
}

// cpuAndRSS is this process's user and system CPU time and its peak
// resident set size.
func cpuAndRSS() (cpuSeconds float64, peakRSS int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	// ru_maxrss is in kilobytes on Linux (bytes on macOS, where the figure
	// reads 1024 times too large).
	return tv(ru.Utime) + tv(ru.Stime), int64(ru.Maxrss) * 1024
}
