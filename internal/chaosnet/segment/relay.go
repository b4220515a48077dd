package segment

import (
	"io"
	"net"
	"sync"
)

// end is one side of a relayed connection: a kernel socket or a userspace
// stack's connection.
type end interface {
	io.ReadWriteCloser
	CloseWrite() error
	// reset closes with an RST.
	reset()
}

// kernelConn is a kernel TCP socket as an end.
type kernelConn struct{ *net.TCPConn }

func (c kernelConn) reset() {
	_ = c.SetLinger(0) // an RST on close, as the peer's reset was
	_ = c.Close()
}

// relay joins two ends and passes on how each one ends: an EOF becomes a
// half-close (FIN) of the other end, anything else (a reset, a failed
// write) resets the other end, so an RST from behind the segment reaches
// the client as an RST.
type relay struct {
	ends [2]end

	mu     sync.Mutex
	closed bool
}

// run copies both ways until both are done, one way on a goroutine of its
// own and the other on the caller's, then closes both ends.
func (r *relay) run() {
	var wg sync.WaitGroup
	wg.Go(func() { r.copy(r.ends[1], r.ends[0]) })
	r.copy(r.ends[0], r.ends[1])
	wg.Wait()
	r.stop(false)
}

// relayBuffer is the copy buffer of each way of a relay. An idle
// connection holds both while it waits to read, so they are most of what a
// connection costs (io.Copy's 32 KiB each would be four fifths of it); a
// packet carries 1448 bytes, so 8 KiB is still several packets a read.
const relayBuffer = 8 << 10

func (r *relay) copy(dst, src end) {
	// Hidden from io.CopyBuffer: a kernel socket's ReadFrom and WriteTo
	// would copy through a 32 KiB buffer of their own.
	w, rd := struct{ io.Writer }{dst}, struct{ io.Reader }{src}
	if _, err := io.CopyBuffer(w, rd, make([]byte, relayBuffer)); err == nil {
		_ = dst.CloseWrite()
		return
	}
	r.stop(true)
}

// stop closes both ends, with an RST if reset, once.
func (r *relay) stop(reset bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for _, e := range r.ends {
		if reset {
			e.reset()
		} else {
			_ = e.Close()
		}
	}
}
