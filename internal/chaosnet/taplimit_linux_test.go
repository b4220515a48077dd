//go:build linux

package chaosnet

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

// Out of descriptors, the tap sheds with its reserve and keeps accepting.
func TestTapShedsWhenOutOfDescriptors(t *testing.T) {
	tap, evs := newTapWith(t, newEchoServer(t).Addr(), TapOptions{})
	// Every accept loop must be waiting in accept before the limit drops:
	// accept4 fails with EMFILE before it looks at the queue, and the echo
	// server's loop stops on its first error.
	warm := dial(t, tap.Addr())
	roundTrip(t, warm, "warm")
	require.NoError(t, warm.Close())
	evs.until(t, result.KindTapClosed)
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	// Room for the client's socket and nothing else: the tap's accept finds
	// the process out of descriptors.
	low := lim
	low.Cur = uint64(limitForOneFree(t))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low))
	restored := false
	restore := func() {
		if !restored {
			restored = true
			require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
		}
	}
	defer restore()
	c, err := net.DialTimeout("tcp", tap.Addr(), ioTimeout)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(ioTimeout)))
	readShed(t, c, http.StatusServiceUnavailable)
	restore()
	shed := shedOf(t, evs.until(t, result.KindTapClosed), 2)
	assert.Contains(t, shed.Reason, "out of file descriptors")

	roundTrip(t, dial(t, tap.Addr()), "served again")
}

// limitForOneFree returns the RLIMIT_NOFILE that leaves exactly one
// descriptor free. The limit caps descriptor numbers, not their count, and
// a process may hold numbers far above the rest (go test passes one), so it
// is the second number not in use.
func limitForOneFree(t *testing.T) int {
	t.Helper()
	dir, err := os.Open("/proc/self/fd")
	require.NoError(t, err)
	names, err := dir.Readdirnames(-1)
	require.NoError(t, err)
	own := int(dir.Fd()) // listed, but free again once closed
	require.NoError(t, dir.Close())
	used := make(map[int]bool, len(names))
	for _, name := range names {
		n, err := strconv.Atoi(name)
		require.NoError(t, err)
		used[n] = n != own
	}
	free := 0
	for n := 0; ; n++ {
		if used[n] {
			continue
		}
		if free++; free == 2 {
			return n
		}
	}
}
