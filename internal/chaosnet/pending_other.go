//go:build !unix

package chaosnet

import "net"

// pendingInput is false: without a non-blocking peek, a client is silent
// until the tap has read from it.
func pendingInput(*net.TCPConn) bool { return false }

// awaitInput returns at once: without a non-blocking peek the tap dials
// upstream without waiting for the client to speak.
func awaitInput(*net.TCPConn) error { return nil }
