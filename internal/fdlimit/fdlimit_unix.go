//go:build unix

package fdlimit

import (
	"errors"
	"math"
	"syscall"
)

func soft() (int, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	if lim.Cur > math.MaxInt32 { // RLIM_INFINITY or close to it
		return math.MaxInt32, true
	}
	return int(lim.Cur), true
}

func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
