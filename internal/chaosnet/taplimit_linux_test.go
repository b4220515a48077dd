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

// stuckUpstream returns the address of a listener whose accept queue is
// full and never drained: a dial to it hangs until its timeout, as a dial
// to a proxy swamped by a flood does.
func stuckUpstream(t *testing.T) string {
	t.Helper()
	_, addr := smallListener(t, 0) // room for one connection
	filler, err := net.DialTimeout("tcp", addr, ioTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { filler.Close() })
	return addr
}

// A client whose request waits unread while the tap's dial hangs has not
// been silent: a newer, silent connection is evicted before it.
func TestTapUnreadRequestIsNotSilent(t *testing.T) {
	tap, evs := newTapWith(t, stuckUpstream(t), TapOptions{MaxConns: 2, DialTimeout: ioTimeout})
	spoke := dial(t, tap.Addr())
	_, err := spoke.Write([]byte("GET /ws HTTP/1.1\r\n"))
	require.NoError(t, err)
	evs.until(t, result.KindTapConnect)
	silent := dial(t, tap.Addr())
	evs.until(t, result.KindTapConnect)
	waitPending(t, tap, 1)

	dial(t, tap.Addr())
	readShed(t, silent, http.StatusServiceUnavailable)
	shed := shedOf(t, evs.until(t, result.KindTapShed), 2)
	assert.Contains(t, shed.Reason, "sent nothing")
}

// waitPending waits until the request conn sent is in the tap's socket.
func waitPending(t *testing.T, tap *Tap, conn uint64) {
	t.Helper()
	waitRelay(t, tap, conn, "have input waiting", func(r *relay) bool { return pendingInput(r.conns[clientSide]) })
}

// The tap dials upstream once the client speaks, or after DialAfter; a
// client that leaves without a word is never dialled for.
func TestTapDialsOnFirstByte(t *testing.T) {
	const dialAfter = 200 * time.Millisecond
	upstream, dialled := holdServer(t)
	tap, evs := newTapWith(t, upstream, TapOptions{DialAfter: dialAfter})

	speaker := dial(t, tap.Addr())
	_, err := speaker.Write([]byte("GET"))
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return dialled() == 1 }, dialAfter/2, time.Millisecond, "dialled for a client that spoke at once")

	start := time.Now()
	dial(t, tap.Addr())
	assert.Eventually(t, func() bool { return dialled() == 2 }, ioTimeout, time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), dialAfter, "a silent client is dialled for after DialAfter")

	leaver := dial(t, tap.Addr())
	require.NoError(t, leaver.Close())
	var got []TapEvent
	for len(got) == 0 || got[len(got)-1].Conn != 3 {
		got = evs.until(t, result.KindTapClosed)
	}
	assert.Equal(t, []result.Kind{result.KindTapConnect, result.KindTapClientClose, result.KindTapClosed}, kinds(got[len(got)-3:]))
	time.Sleep(2 * dialAfter)
	assert.Equal(t, 2, dialled(), "no dial for a client that left without a word")
}
