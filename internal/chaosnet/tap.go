package chaosnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wschaos/wschaos/result"
)

// TapEvent is one observation of a [Tap].
type TapEvent struct {
	Time time.Time
	// Conn numbers the client connections the tap accepted, from 1.
	Conn uint64
	// Kind is one of the result vocabulary's tap kinds, in the order they
	// occur for one connection: tap-connect, tap-upstream-refused,
	// tap-client-close, tap-upstream-close, tap-closed. Every tap-connect is
	// followed by exactly one tap-closed, the last event for that Conn.
	Kind result.Kind
	// Client is the client's remote address.
	Client string
	// BytesUp (client to upstream) and BytesDown (upstream to client) count the
	// bytes relayed so far on this connection, including a write in progress.
	// On "closed" they are exact.
	BytesUp, BytesDown int64
	// Reset reports that the side that ended did so with a connection reset
	// (ECONNRESET, or EPIPE on a write). On "closed" it reports that either side
	// did.
	Reset bool
	// LastDown is, on the close events, when the tap last wrote bytes to
	// the client; zero if it never did. What the client could observe of
	// the connection ends there.
	LastDown time.Time
	// Stopped reports, on tap-closed, that the tap itself closed the
	// connection (Close), so its end is no one else's doing.
	Stopped bool
	// Text is the error text, if any ("" for a clean EOF).
	Text string
}

// Tap is a plain TCP relay that reports what every client connection does. It
// sits in front of a proxy so that the harness sees the client's own connects and
// closes, whatever the client is.
//
// The relay propagates closes as they happened: a side's EOF becomes a half-close
// (FIN) towards the other side, and a side's reset closes the other side with
// SO_LINGER 0, so that an RST (for example from Toxiproxy's reset_peer) reaches the
// client as an RST. What it cannot pass on is a refused dial: the tap has
// accepted the client before it dials upstream, so while the proxy is down a
// client behind the tap sees its connection accepted and then closed (EOF), not
// ECONNREFUSED, and the tap reports "upstream-refused".
type Tap struct {
	upstream string
	epoch    time.Time // origin of the relays' atomic clocks
	ln       *net.TCPListener
	onEvent  func(TapEvent)
	ctx      context.Context // cancelled by Close: stops upstream dials
	cancel   context.CancelFunc

	evMu sync.Mutex // serialises onEvent

	mu     sync.Mutex
	closed bool
	conns  map[*relay]struct{}
	wg     sync.WaitGroup // accept loop and one per connection

	nextID atomic.Uint64
	live   atomic.Int64
}

// NewTap starts a relay listening on a free loopback port that forwards every
// connection to upstream ("host:port"). onEvent, if not nil, receives the events;
// calls are serialised, in order, and must not block (they hold up the relay) or
// call Close.
//
// One goroutine accepts until Close; each connection has one goroutine that dials
// upstream and waits, and two that copy bytes, all of which end when both sides
// are done or at Close.
func NewTap(upstream string, onEvent func(TapEvent)) (*Tap, error) {
	if upstream == "" {
		return nil, errors.New("chaosnet: new tap: upstream must be host:port")
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("chaosnet: new tap: %w", err)
	}
	if onEvent == nil {
		onEvent = func(TapEvent) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tap{
		upstream: upstream,
		epoch:    time.Now(),
		ln:       ln,
		onEvent:  onEvent,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*relay]struct{}),
	}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the address clients dial, "127.0.0.1:port".
func (t *Tap) Addr() string { return t.ln.Addr().String() }

// Live returns the number of client connections accepted and not yet closed.
func (t *Tap) Live() int { return int(t.live.Load()) }

// Close stops accepting, closes every relayed connection (both sides, with a
// FIN) and waits for all of the tap's goroutines, so no event is delivered after
// it returns. Each open connection still gets its tap-closed event, with
// Stopped set. Close is idempotent.
func (t *Tap) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.wg.Wait()
		return nil
	}
	t.closed = true
	conns := make([]*relay, 0, len(t.conns))
	for r := range t.conns {
		conns = append(conns, r)
	}
	t.mu.Unlock()

	t.cancel()
	err := t.ln.Close()
	for _, r := range conns {
		r.shutdown()
	}
	t.wg.Wait()
	return err
}

func (t *Tap) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE and the like): back off briefly.
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		// The connect is stamped here, not when its goroutine first runs:
		// on a loaded machine that can be tens of milliseconds later.
		at := time.Now()
		t.wg.Add(1)
		go t.serve(c, at)
	}
}

func (t *Tap) emit(ev TapEvent) {
	t.evMu.Lock()
	defer t.evMu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	t.onEvent(ev)
}

// side indexes the two ends of a relayed connection.
type side int

const (
	clientSide side = iota
	upstreamSide
)

func (s side) closeKind() result.Kind {
	if s == clientSide {
		return result.KindTapClientClose
	}
	return result.KindTapUpstreamClose
}

type relay struct {
	t      *Tap
	id     uint64
	client string
	conns  [2]*net.TCPConn // by side; conns[upstreamSide] is nil until dialled
	bytes  [2]atomic.Int64 // bytes written to side: [upstreamSide] is BytesUp
	// lastDown is when bytes were last written to the client, in
	// nanoseconds since the tap's epoch; 0 if never.
	lastDown atomic.Int64

	mu       sync.Mutex
	ended    [2]bool // the side's end was reported
	torn     [2]bool // the tap closed the side itself; its errors are ours
	reset    bool
	tapClose bool
}

func (r *relay) event(kind result.Kind) TapEvent {
	ev := TapEvent{
		Conn:      r.id,
		Kind:      kind,
		Client:    r.client,
		BytesUp:   r.bytes[upstreamSide].Load(),
		BytesDown: r.bytes[clientSide].Load(),
	}
	if ns := r.lastDown.Load(); ns != 0 && kind != result.KindTapConnect {
		ev.LastDown = r.t.epoch.Add(time.Duration(ns))
	}
	return ev
}

func (t *Tap) serve(c *net.TCPConn, acceptedAt time.Time) {
	defer t.wg.Done()
	t.live.Add(1)

	r := &relay{t: t, id: t.nextID.Add(1), client: c.RemoteAddr().String()}
	r.conns[clientSide] = c
	connect := r.event(result.KindTapConnect)
	connect.Time = acceptedAt
	t.emit(connect)

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.Close()
		ev := r.event(result.KindTapClosed)
		ev.Stopped = true
		t.finish(ev)
		return
	}
	t.conns[r] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.conns, r)
		t.mu.Unlock()
	}()

	var d net.Dialer
	uc, err := d.DialContext(t.ctx, "tcp", t.upstream)
	if err != nil {
		c.Close()
		if t.ctx.Err() == nil {
			ev := r.event(result.KindTapRefused)
			ev.Text = err.Error()
			t.emit(ev)
		}
		ev := r.event(result.KindTapClosed)
		ev.Text = err.Error()
		if t.ctx.Err() != nil {
			ev.Stopped = true
		}
		t.finish(ev)
		return
	}
	r.mu.Lock()
	r.conns[upstreamSide] = uc.(*net.TCPConn)
	tapClose := r.tapClose
	r.mu.Unlock()
	if tapClose { // Close ran while we were dialling
		r.shutdown()
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(upstreamSide, clientSide) }()
	go func() { defer wg.Done(); r.pipe(clientSide, upstreamSide) }()
	wg.Wait()

	r.conns[clientSide].Close()
	r.conns[upstreamSide].Close()
	r.mu.Lock()
	ev := r.event(result.KindTapClosed)
	ev.Reset = r.reset
	if r.tapClose {
		ev.Stopped = true
	}
	r.mu.Unlock()
	t.finish(ev)
}

// finish emits a connection's "closed" event, after taking it off Live so that
// a consumer of the event sees the new count.
func (t *Tap) finish(ev TapEvent) {
	t.live.Add(-1)
	t.emit(ev)
}

// tapBufferSize is each copy goroutine's buffer. WebSocket traffic comes in
// small frames; 8 KiB keeps loopback throughput and a 5,000-client run lean.
var tapBufferSize = 8 << 10

// pipe copies from src to dst until either fails, then reports which side ended
// and how.
func (r *relay) pipe(dst, src side) {
	// A size that is not a constant puts the buffer on the heap: a constant
	// one lived on each copy goroutine's stack and grew it to 64 KiB, about
	// 130 KiB per relayed connection.
	buf := make([]byte, tapBufferSize)
	for {
		n, rerr := r.conns[src].Read(buf)
		if n > 0 {
			// Count before writing: the peer may answer (and another event be
			// emitted) before Write returns. A failed write takes back what it
			// did not write, so "closed" has the exact count.
			r.bytes[dst].Add(int64(n))
			if dst == clientSide && r.clientGone() {
				// Draining: the client is gone; take what the proxy still
				// sends so it ends its side cleanly (see end).
				r.bytes[dst].Add(int64(-n))
			} else if w, werr := r.conns[dst].Write(buf[:n]); werr != nil {
				r.bytes[dst].Add(int64(w - n))
				if w > 0 && dst == clientSide {
					r.lastDown.Store(int64(time.Since(r.t.epoch)))
				}
				r.end(dst, werr)
				if dst != clientSide {
					return
				}
				// The client is gone but the proxy is not: drain it.
			} else if dst == clientSide {
				r.lastDown.Store(int64(time.Since(r.t.epoch)))
			}
		}
		if rerr != nil {
			r.end(src, rerr)
			return
		}
	}
}

// clientGone reports whether the client side has failed, so that what
// comes from upstream is drained rather than relayed.
func (r *relay) clientGone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.torn[clientSide]
}

// end records that side s ended with err and propagates it: after a clean EOF
// it half-closes the other side, so that the FIN travels on and the other
// direction keeps flowing; after an error it closes both sides, the other one with
// SO_LINGER 0 if s was reset, so that an RST travels on too.
//
// A client that fails (a reset, or a write to it that fails because it has
// closed) is the exception: the upstream side gets a FIN, not an RST, and
// the tap drains what the proxy still sends until the proxy closes. Closing
// on Toxiproxy with data in flight makes its link writer fail while a toxic
// (latency) still holds a chunk for it; a toxic removed at that moment then
// waits on that chunk for ever, holding the proxy's lock (Toxiproxy
// v2.12.0). The server therefore sees a client that vanished as a FIN.
func (r *relay) end(s side, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.torn[s] {
		return // the error is our own close
	}
	other := 1 - s
	reset := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	r.reset = r.reset || reset
	if !r.ended[s] {
		r.ended[s] = true
		ev := r.event(s.closeKind())
		ev.Reset = reset
		if !errors.Is(err, io.EOF) {
			ev.Text = err.Error()
		}
		r.t.emit(ev)
	}
	if errors.Is(err, io.EOF) {
		if !r.torn[other] {
			r.conns[other].CloseWrite()
		}
		return
	}
	if s == clientSide {
		r.torn[s] = true
		r.conns[s].Close()
		if !r.torn[other] {
			r.conns[other].CloseWrite()
		}
		return
	}
	if !r.torn[other] {
		r.torn[other] = true
		if reset {
			r.conns[other].SetLinger(0)
		}
		r.conns[other].Close()
	}
	r.torn[s] = true
	r.conns[s].Close()
}

// shutdown closes both sides on Tap.Close. If upstream is not dialled yet, serve
// closes it when the dial returns.
func (r *relay) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tapClose = true
	for s, c := range r.conns {
		if c != nil && !r.torn[s] {
			r.torn[s] = true
			c.Close()
		}
	}
}
