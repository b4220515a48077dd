// Package memnet is an in-process network of one address: a listener whose
// connections are made by Dial, each a net.Pipe pair, so no descriptor and
// no system call is spent on them.
//
// The stress chain runs each fake server behind a relay in the same
// process. Between the two it uses a Network instead of a loopback TCP
// connection, so that a client costs the chain one descriptor (the relay's
// end of the client's own TCP connection) instead of three, and a message
// crosses the kernel once instead of twice. The client's hop, where the
// faults act, stays real TCP.
//
// A Network behaves as a TCP address does where a relay can tell: a dial
// while nothing listens is refused (the error wraps syscall.ECONNREFUSED);
// a dial completes into a backlog before Accept takes it, and blocks while
// the backlog is full; closing the listener closes the connections still in
// its backlog, and a new Listen takes the address again. Unlike TCP, a pipe
// has no buffer: a Write returns once the other end has read all of it.
package memnet

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
)

// Backlog is how many dialled connections wait for Accept before Dial
// blocks.
const Backlog = 1024

// ErrListening is returned by Listen while the network already has a
// listener.
var ErrListening = errors.New("memnet: already listening")

// Network is one in-process address. Its methods are safe for concurrent
// use.
type Network struct {
	addr addr

	mu sync.Mutex
	ln *listener // nil while nothing listens
}

// New makes a network whose address prints as name.
func New(name string) *Network {
	return &Network{addr: addr(name)}
}

// Addr is the network's address.
func (n *Network) Addr() net.Addr { return n.addr }

// Listen starts accepting the network's dials. Only one listener listens at
// a time; once it is closed, Listen may be called again.
func (n *Network) Listen() (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ln != nil {
		return nil, ErrListening
	}
	n.ln = &listener{n: n, backlog: make(chan net.Conn, Backlog), done: make(chan struct{})}
	return n.ln, nil
}

// Dial connects to the listener: it returns once the connection is in the
// backlog, as a TCP connect returns once the handshake is done. It is
// refused while nothing listens.
func (n *Network) Dial(ctx context.Context) (net.Conn, error) {
	n.mu.Lock()
	l := n.ln
	n.mu.Unlock()
	if l == nil {
		return nil, n.refused()
	}
	c, s := net.Pipe()
	select {
	case l.backlog <- s:
	case <-l.done:
		_, _ = c.Close(), s.Close()
		return nil, n.refused()
	case <-ctx.Done():
		_, _ = c.Close(), s.Close()
		return nil, &net.OpError{Op: "dial", Net: n.addr.Network(), Addr: n.addr, Err: ctx.Err()}
	}
	// The listener may have closed, and emptied its backlog, as the
	// connection went in: then nobody will take it.
	select {
	case <-l.done:
		_, _ = c.Close(), s.Close()
		return nil, n.refused()
	default:
	}
	return c, nil
}

func (n *Network) refused() error {
	return &net.OpError{Op: "dial", Net: n.addr.Network(), Addr: n.addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

type listener struct {
	n       *Network
	backlog chan net.Conn
	done    chan struct{}
	once    sync.Once
}

// Accept returns the next dialled connection, or an error wrapping
// net.ErrClosed once the listener is closed.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
	default:
		select {
		case c := <-l.backlog:
			return c, nil
		case <-l.done:
		}
	}
	return nil, &net.OpError{Op: "accept", Net: l.n.addr.Network(), Addr: l.n.addr, Err: net.ErrClosed}
}

// Close stops the listener: dials are refused from now on and the
// connections in the backlog are closed. Closing it again does nothing.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		if l.n.ln == l {
			l.n.ln = nil
		}
		l.n.mu.Unlock()
		for {
			select {
			case c := <-l.backlog:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *listener) Addr() net.Addr { return l.n.addr }

// addr is a network's address.
type addr string

func (a addr) Network() string { return "memnet" }
func (a addr) String() string  { return string(a) }
