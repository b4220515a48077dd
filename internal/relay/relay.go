// Package relay is a lean TCP relay with the network faults a stress run
// applies to thousands of connections at once: the proxy disabled (every
// connection closed with a FIN, dials refused), a black hole (data swallowed
// both ways, connections held open until the hole is lifted, which closes
// them) and latency added to every chunk. Each has the semantics of the
// Toxiproxy v2.12.0 fault it stands in for (Proxy.Disable, the timeout
// toxic with timeout 0 on both streams, the latency toxic on both streams),
// which relay_test.go checks side by side against the embedded Toxiproxy.
//
// It exists for cost. Toxiproxy relays each direction of a connection
// through three goroutines and two io.Copy calls, each holding a 32 KiB
// buffer while it waits: 128 KiB of its 133 KiB per connection (measured
// with a heap profile: io.copyBuffer under ToxicLink.read and
// ToxicLink.write). A Relay uses one goroutine and one BufSize buffer per
// direction, plus a writer goroutine while latency is being added.
package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// BufSize is each direction's read buffer: a WebSocket frame of the stress
// workload is a few hundred bytes, and a larger one takes more reads, never
// more memory.
const BufSize = 2 << 10

// dialTimeout bounds the upstream dial of one accepted connection.
const dialTimeout = 5 * time.Second

// acceptRetry is the pause after an accept that failed for want of
// resources.
const acceptRetry = 10 * time.Millisecond

// ErrClosed is returned by calls after Close.
var ErrClosed = errors.New("relay: closed")

// Relay accepts connections on its address and relays each to the upstream.
// Its methods are safe for concurrent use.
type Relay struct {
	addr, upstream string
	dial           DialFunc
	// ctx ends with Close, and with it every upstream dial in progress.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	ln      net.Listener // nil while disabled
	links   map[*link]struct{}
	hole    bool
	latency time.Duration
	closed  bool
	wg      sync.WaitGroup // accept loops and every link's goroutines
}

// DialFunc connects to a relay's upstream for one accepted client.
type DialFunc func(ctx context.Context) (net.Conn, error)

// New listens on listen ("127.0.0.1:0" picks a port) and relays to upstream
// over TCP. The address stays the same across Disable and Enable.
func New(listen, upstream string) (*Relay, error) {
	if upstream == "" {
		return nil, errors.New("relay: upstream must be host:port")
	}
	var d net.Dialer
	return NewDial(listen, upstream, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", upstream)
	})
}

// NewDial is New with the upstream reached by dial, which upstream names:
// the stress chain dials its fake server in memory (package memnet). A
// failed dial closes the accepted client, as a refused TCP dial does.
func NewDial(listen, upstream string, dial DialFunc) (*Relay, error) {
	if upstream == "" || dial == nil {
		return nil, errors.New("relay: want an upstream and a way to dial it")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("relay: listen: %w", err)
	}
	r := &Relay{addr: ln.Addr().String(), upstream: upstream, dial: dial, links: map[*link]struct{}{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.serve(ln)
	return r, nil
}

// Addr is the address clients dial, "127.x.y.z:port".
func (r *Relay) Addr() string { return r.addr }

// Upstream is the address connections are relayed to.
func (r *Relay) Upstream() string { return r.upstream }

// Conns is how many connections are open through the relay.
func (r *Relay) Conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.links)
}

// serve starts the accept loop on ln. Called with r.mu held or before r is
// shared.
func (r *Relay) serve(ln net.Listener) {
	r.ln = ln
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return // closed by Disable or Close
			}
			if err != nil {
				// Out of descriptors, say: Toxiproxy's accept loop ends
				// here for good; this one waits and goes on.
				time.Sleep(acceptRetry)
				continue
			}
			r.wg.Go(func() { r.relay(c) })
		}
	})
}

// Disable closes the listener, so that dials are refused, and every
// connection through the relay with a FIN, as Toxiproxy's disable does.
// Faults stay in place. Disabling a disabled relay does nothing.
func (r *Relay) Disable(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.ln != nil {
		_ = r.ln.Close()
		r.ln = nil
	}
	r.closeLinksLocked()
	return ctx.Err()
}

// Enable listens on the relay's address again. It fails if another socket
// took the port meanwhile. Enabling an enabled relay does nothing.
func (r *Relay) Enable(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return fmt.Errorf("relay: enable on %s: %w", r.addr, err)
	}
	r.serve(ln)
	return ctx.Err()
}

// SetBlackHole swallows every byte both ways while on, holding the
// connections open, new ones included: Toxiproxy's timeout toxic with
// timeout 0. The end of a stream still passes, as through that toxic (it
// closes its output when its input ends): a server that closes a
// connection meanwhile closes the client's. Turning it off closes every
// connection it held, as removing that toxic does.
func (r *Relay) SetBlackHole(ctx context.Context, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	was := r.hole
	r.hole = on
	if was && !on {
		r.closeLinksLocked()
	}
	return ctx.Err()
}

// SetLatency delays every chunk read from then on by d before it is
// written on, each way, keeping their order: Toxiproxy's latency toxic
// without jitter. 0 turns it off; chunks already delayed still wait out
// their delay.
func (r *Relay) SetLatency(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("relay: latency %v: want 0 or more", d)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.latency = d
	return ctx.Err()
}

// Close stops the relay, closes every connection and waits for every
// goroutine it started.
func (r *Relay) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		if r.ln != nil {
			_ = r.ln.Close()
			r.ln = nil
		}
		r.closeLinksLocked()
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}

func (r *Relay) closeLinksLocked() {
	for l := range r.links {
		l.close()
	}
	clear(r.links)
}

// mode is what a direction does with a chunk it read.
func (r *Relay) mode() (hole bool, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hole, r.latency
}

// relay dials the upstream for the accepted client and relays both ways
// until either end closes: the client to the upstream on this goroutine,
// the other way on one more.
func (r *Relay) relay(client net.Conn) {
	ctx, cancel := context.WithTimeout(r.ctx, dialTimeout)
	up, err := r.dial(ctx)
	cancel()
	if err != nil {
		_ = client.Close() // as Toxiproxy: the accepted client gets a FIN
		return
	}
	l := &link{r: r, client: client, up: up, done: make(chan struct{})}
	r.mu.Lock()
	if r.closed || r.ln == nil {
		r.mu.Unlock()
		l.close()
		return
	}
	r.links[l] = struct{}{}
	r.mu.Unlock()
	down := &pipe{l: l, dst: client}
	r.wg.Go(func() { down.run(up) })
	(&pipe{l: l, dst: up}).run(client)
}

// link is one relayed connection: the client's side and the upstream's.
type link struct {
	r          *Relay
	client, up net.Conn
	once       sync.Once
	done       chan struct{}
}

// close closes both sides; the first end to close ends both, as in
// Toxiproxy.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		_ = l.up.Close()
	})
}

func (l *link) forget() {
	l.close()
	l.r.mu.Lock()
	delete(l.r.links, l)
	l.r.mu.Unlock()
}

// pipe is one direction of a link. Chunks are written on at once unless
// latency is on, or delayed chunks are still queued: then they queue, with
// the time each is due, for a writer goroutine that runs only while the
// queue holds something.
type pipe struct {
	l   *link
	dst net.Conn

	mu      sync.Mutex
	queue   []chunk
	writing bool // a writer goroutine owns dst
}

type chunk struct {
	data []byte
	due  time.Time
}

func (p *pipe) run(src net.Conn) {
	defer p.l.forget()
	buf := make([]byte, BufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.pass(buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// pass sends b on as the relay's faults say; it reports false when the
// destination failed.
func (p *pipe) pass(b []byte) bool {
	hole, latency := p.l.r.mode()
	if hole {
		return true
	}
	p.mu.Lock()
	if latency == 0 && !p.writing {
		p.mu.Unlock()
		_, err := p.dst.Write(b)
		return err == nil
	}
	p.queue = append(p.queue, chunk{data: append([]byte(nil), b...), due: time.Now().Add(latency)})
	start := !p.writing
	p.writing = true
	p.mu.Unlock()
	if start {
		p.l.r.wg.Go(p.drain)
	}
	return true
}

// drain writes the queued chunks, each when it is due, until the queue is
// empty or the link closes.
func (p *pipe) drain() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.writing = false
			p.queue = nil
			p.mu.Unlock()
			return
		}
		c := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if wait := time.Until(c.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.l.done:
				t.Stop()
			}
		}
		if _, err := p.dst.Write(c.data); err != nil {
			p.l.close()
			p.mu.Lock()
			p.writing, p.queue = false, nil
			p.mu.Unlock()
			return
		}
	}
}
