//go:build unix

package chaosnet

import (
	"errors"
	"net"
	"syscall"
)

// pendingInput reports whether the client has sent bytes that the tap has
// not read yet: the tap reads a client only once its upstream dial is done,
// and a client whose upgrade request waits in the socket while the dial
// queues behind a flood has not been silent. It peeks without blocking,
// through Control, which (unlike RawConn.Read) does not wait for a Read
// blocked on the same connection.
func pendingInput(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	pending := false
	_ = rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		pending = err == nil && n > 0
	})
	return pending
}

// awaitInput waits, without reading, until the client has sent something
// or closed, or c's read deadline passes. It returns nil when there is
// input, a *clientLeft when the client closed (or was reset) first, and
// the deadline error when it passed. Waiting through RawConn.Read parks the
// goroutine on the poller like any read.
func awaitInput(c *net.TCPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var buf [1]byte
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return !errors.Is(perr, syscall.EAGAIN)
	})
	switch {
	case err != nil:
		return err
	case perr != nil:
		return &clientLeft{perr}
	case n == 0:
		return &clientLeft{nil} // EOF
	}
	return nil
}
