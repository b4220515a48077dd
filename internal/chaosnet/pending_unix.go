//go:build unix

package chaosnet

import (
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
