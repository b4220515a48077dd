package chaosnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wschaos/wschaos/internal/fdlimit"
	"github.com/wschaos/wschaos/internal/shed"
	"github.com/wschaos/wschaos/result"
)

// TapEvent is one observation of a [Tap].
type TapEvent struct {
	Time time.Time
	// Conn numbers the client connections the tap accepted, from 1, in the
	// order it accepted them.
	Conn uint64
	// Kind is one of the result vocabulary's tap kinds, in the order they
	// occur for one connection: tap-connect, tap-upstream-refused,
	// tap-client-close, tap-upstream-close, tap-shed, tap-closed. Every
	// tap-connect is followed by exactly one tap-closed, the last event for
	// that Conn.
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
	// the client (as the write began, so it is set before the client can
	// react to them); zero if it never did. What the client could observe
	// of the connection ends there.
	LastDown time.Time
	// Stopped reports, on tap-closed, that the tap itself closed the
	// connection (Close), so its end is no one else's doing.
	Stopped bool
	// Status, on tap-shed, is the HTTP status the tap answered the client
	// with (503 over a limit or out of descriptors, 408 for a client silent
	// too long), or 0 when it closed without an answer (the connection was
	// answered by the server already, or was half-closed too long).
	Status int
	// Reason, on tap-shed, says which limit the tap enforced, in one line.
	Reason string
	// Text is the error text, if any ("" for a clean EOF).
	Text string
}

// TapOptions configure a [Tap]. The zero value means the defaults.
type TapOptions struct {
	// OnEvent, if not nil, receives the events; calls are serialised, in
	// order, and must not block (they hold up the relay) or call Close.
	OnEvent func(TapEvent)
	// MaxConns is how many connections the tap holds at once. Default: the
	// total of [TapLimits], derived from the process's descriptor limit
	// (3,600 with 20,000 descriptors). A newcomer beyond it is admitted and
	// an older connection evicted (see [Tap]).
	MaxConns int
	// MaxConnsPerAddr is how many connections one client IP address holds
	// at once. Default: the per-address figure of [TapLimits], three
	// quarters of the default MaxConns (2,700 with 20,000 descriptors), and
	// never more than MaxConns. Loopback clients all share 127.0.0.1
	// unless they bind another 127.x address.
	MaxConnsPerAddr int
	// DialTimeout bounds the dial to upstream, the wait for a dial slot
	// (MaxDials) included. Default 10s.
	DialTimeout time.Duration
	// MaxDials is how many upstream dials the tap has in flight at once;
	// the others wait their turn. Default 64. A dial completes as soon as
	// the proxy's kernel queues the connection, so dials pile up only when
	// that queue is full (Toxiproxy accepts on one goroutine per proxy and
	// dials its own upstream before the next accept): each then holds a
	// descriptor in SYN-SENT for up to DialTimeout, and a connection the
	// tap evicts while it waits for a slot never dials at all.
	MaxDials int
	// DialAfter is how long the tap waits for a client's first byte before
	// it dials upstream anyway. A WebSocket client sends its upgrade
	// request at once and is dialled for at once; connections that never
	// speak (a flood) cost the proxy and the server nothing for this long.
	// A client of a protocol whose server speaks first is dialled for
	// after it. Default 2s. (Not on Windows, where the tap cannot wait for
	// input without reading it: there it dials at once.)
	DialAfter time.Duration
	// FirstByteTimeout is how long a client may stay silent after it
	// connected: a WebSocket client sends its upgrade request at once.
	// Past it the tap answers 408 and closes. Default 30s.
	FirstByteTimeout time.Duration
	// HalfCloseTimeout is how long a connection may stay half-closed (one
	// side has sent its FIN, or the client is gone and the tap drains what
	// upstream still sends) before the tap closes both sides. It must
	// exceed any slow_close delay a fault holds a FIN back with. Default
	// 30s.
	HalfCloseTimeout time.Duration
	// RetryAfter is the Retry-After the tap's 503 carries, rounded up to
	// whole seconds. Default 1s.
	RetryAfter time.Duration
}

// Tap defaults; see TapOptions.
const (
	defaultTapDialTimeout      = 10 * time.Second
	defaultTapMaxDials         = 64
	defaultTapDialAfter        = 2 * time.Second
	defaultTapFirstByteTimeout = 30 * time.Second
	defaultTapHalfCloseTimeout = 30 * time.Second
	defaultTapRetryAfter       = time.Second
)

func (o *TapOptions) setDefaults() error {
	switch {
	case o.MaxConns < 0, o.MaxConnsPerAddr < 0, o.MaxDials < 0:
		return fmt.Errorf("MaxConns %d, MaxConnsPerAddr %d and MaxDials %d, want 0 (default) or more", o.MaxConns, o.MaxConnsPerAddr, o.MaxDials)
	case o.DialTimeout < 0, o.DialAfter < 0, o.FirstByteTimeout < 0, o.HalfCloseTimeout < 0, o.RetryAfter < 0:
		return errors.New("timeouts and RetryAfter must be 0 (default) or more")
	}
	total, perAddr := TapLimits()
	if o.MaxConns == 0 {
		o.MaxConns = total
	}
	if o.MaxConnsPerAddr == 0 {
		o.MaxConnsPerAddr = perAddr
	}
	o.MaxConnsPerAddr = min(o.MaxConnsPerAddr, o.MaxConns)
	if o.MaxDials == 0 {
		o.MaxDials = defaultTapMaxDials
	}
	setDefault(&o.DialTimeout, defaultTapDialTimeout)
	setDefault(&o.DialAfter, defaultTapDialAfter)
	setDefault(&o.FirstByteTimeout, defaultTapFirstByteTimeout)
	setDefault(&o.HalfCloseTimeout, defaultTapHalfCloseTimeout)
	setDefault(&o.RetryAfter, defaultTapRetryAfter)
	if o.OnEvent == nil {
		o.OnEvent = func(TapEvent) {}
	}
	return nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Tap is a plain TCP relay that reports what every client connection does. It
// sits in front of a proxy so that the harness sees the client's own connects and
// closes, whatever the client is.
//
// The relay propagates closes as they happened: a side's EOF becomes a half-close
// (FIN) towards the other side, and a side's reset closes the other side with
// SO_LINGER 0, so that an RST (for example from Toxiproxy's reset_peer) reaches the
// client as an RST. What it cannot pass on is a refused dial: the tap has
// accepted the client before it dials upstream (once the client has sent
// its first bytes, or after DialAfter), so while the proxy is down a client
// behind the tap sees its connection accepted and then closed (EOF), not
// ECONNREFUSED, and the tap reports "upstream-refused".
//
// # Limits
//
// A flood of connections must not take the chain down, nor lock a normal
// client out, so the tap bounds what it holds (see [TapOptions]):
//
//   - At most MaxConns connections, and MaxConnsPerAddr from one client IP.
//     A newcomer beyond a limit is admitted, and an older connection from
//     the same scope evicted: the oldest one that has sent nothing, else
//     the oldest one the upstream never answered (for a WebSocket client,
//     one whose upgrade has not completed), else the one idle longest. A
//     victim not yet answered gets an HTTP 503 with Retry-After and a
//     one-line reason; an answered one, mid-stream, a plain FIN. A flood
//     of held connections thus evicts its own members, while a client that
//     sent its upgrade request, and more so one whose upgrade completed,
//     keeps its connection.
//   - The upstream dial waits for the client's first byte, or DialAfter:
//     connections that never speak never reach the proxy.
//   - A client silent for FirstByteTimeout after connecting gets a 408.
//   - A connection half-closed for HalfCloseTimeout (a FIN one way that the
//     other side never answers, or a client gone while upstream still
//     sends) is closed both ways; before this bound a peer that never sent
//     its FIN held two descriptors for ever, with the upstream socket in
//     FIN-WAIT-2.
//   - At most MaxDials upstream dials are in flight; each is bounded by
//     DialTimeout.
//   - When the process runs out of descriptors (EMFILE, ENFILE), the accept
//     loop frees a small reserve of descriptors it holds, takes the waiting
//     connection, answers it 503 and takes the reserve back; if it cannot,
//     it backs off (up to a second) rather than spin. It never stops before
//     Close.
//
// Every connection the tap closes of its own accord gets a tap-shed event
// (Status, Reason) before its tap-closed.
type Tap struct {
	upstream string
	epoch    time.Time // origin of the relays' atomic clocks
	opts     TapOptions
	ln       *net.TCPListener
	ctx      context.Context // cancelled by Close: stops upstream dials
	cancel   context.CancelFunc

	evMu sync.Mutex // serialises onEvent

	mu      sync.Mutex
	closed  bool
	conns   map[*relay]struct{}
	table   *connTable
	dials   chan struct{}  // a slot per upstream dial in flight (MaxDials)
	wg      sync.WaitGroup // accept loop and one per connection
	reserve fdReserve      // accept loop only

	nextID    atomic.Uint64
	live      atomic.Int64
	lingering atomic.Int64 // shed connections waiting for their client's close
}

// NewTap starts a relay listening on a free loopback port that forwards every
// connection to upstream ("host:port"), with the default limits. It is
// NewTapWith with only OnEvent set.
func NewTap(upstream string, onEvent func(TapEvent)) (*Tap, error) {
	return NewTapWith(upstream, TapOptions{OnEvent: onEvent})
}

// NewTapWith starts a relay listening on a free loopback port that forwards
// every connection to upstream ("host:port").
//
// One goroutine accepts until Close; each connection has one goroutine that dials
// upstream and waits, and two that copy bytes, all of which end when both sides
// are done (bounded by the options' timeouts) or at Close. A connection shed
// for want of descriptors has one goroutine, which ends within 250ms.
func NewTapWith(upstream string, opts TapOptions) (*Tap, error) {
	if upstream == "" {
		return nil, errors.New("chaosnet: new tap: upstream must be host:port")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("chaosnet: new tap: %w", err)
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("chaosnet: new tap: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tap{
		upstream: upstream,
		epoch:    time.Now(),
		opts:     opts,
		ln:       ln,
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*relay]struct{}),
		table:    newConnTable(opts.MaxConns, opts.MaxConnsPerAddr),
		dials:    make(chan struct{}, opts.MaxDials),
	}
	t.reserve.acquire()
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the address clients dial, "127.0.0.1:port".
func (t *Tap) Addr() string { return t.ln.Addr().String() }

// Live returns the number of client connections accepted and not yet closed.
func (t *Tap) Live() int { return int(t.live.Load()) }

// Limits returns the limits in force: MaxConns and MaxConnsPerAddr with
// their defaults applied.
func (t *Tap) Limits() (total, perAddr int) { return t.opts.MaxConns, t.opts.MaxConnsPerAddr }

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

// accept runs until Close. An accept that fails for want of descriptors
// sheds the waiting connection with the reserve (see Tap, Limits); other
// failures, and that one when the reserve is spent, back off from 5ms up to
// 1s, as net/http's server does.
func (t *Tap) accept() {
	defer t.wg.Done()
	defer t.reserve.release()
	var backoff time.Duration
	for {
		c, err := t.ln.AcceptTCP()
		if err == nil {
			// The connect is stamped here, not when its goroutine first
			// runs: on a loaded machine that can be tens of milliseconds
			// later.
			at := time.Now()
			backoff = 0
			t.reserve.acquire()
			t.wg.Add(1)
			go t.serve(c, at, t.nextID.Add(1))
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if fdlimit.Exhausted(err) && t.reserve.release() {
			c, err = t.ln.AcceptTCP()
			if err == nil {
				// Serve it if the reserve can be taken back: the shortage
				// has passed. Otherwise answer it and let it go.
				full := t.reserve.acquire()
				t.wg.Add(1)
				if full {
					go t.serve(c, time.Now(), t.nextID.Add(1))
				} else {
					go t.shedNew(c, t.nextID.Add(1), "the tap is out of file descriptors")
				}
				continue
			}
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		timer := time.NewTimer(backoff)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		t.reserve.acquire()
	}
}

func (t *Tap) emit(ev TapEvent) {
	t.evMu.Lock()
	defer t.evMu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	t.opts.OnEvent(ev)
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
	addr   string          // the client's IP, for the per-address limit
	conns  [2]*net.TCPConn // by side; conns[upstreamSide] is nil until dialled
	bytes  [2]atomic.Int64 // bytes written to side: [upstreamSide] is BytesUp
	// lastDown is when the tap last wrote bytes to the client (the start
	// of the write: see write), in nanoseconds since the tap's epoch; 0 if
	// never.
	lastDown atomic.Int64

	answered   atomic.Bool  // upstream sent something
	spokeFast  atomic.Bool  // the client sent something: spoke, without the lock
	lastActive atomic.Int64 // UnixNano of the last byte read from either side
	entry      tableEntry   // guarded by t.mu

	cancelDial context.CancelFunc

	mu       sync.Mutex
	ended    [2]bool // the side's end was reported
	torn     [2]bool // the tap closed the side itself; its errors are ours
	reset    bool
	tapClose bool
	spoke    bool      // the client sent its first byte
	shed     *shedding // the tap is closing the connection of its own accord
	finished bool      // tap-closed is being emitted: nothing more to say
}

// shedding is why the tap closes a connection itself, and its answer.
type shedding struct {
	status int // HTTP status to answer with; 0 for none
	reason string
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

func (t *Tap) newRelay(c *net.TCPConn, acceptedAt time.Time, id uint64) *relay {
	t.live.Add(1)
	r := &relay{t: t, id: id, client: c.RemoteAddr().String()}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		r.addr = a.IP.String()
	}
	r.conns[clientSide] = c
	r.lastActive.Store(time.Now().UnixNano())
	connect := r.event(result.KindTapConnect)
	connect.Time = acceptedAt
	t.emit(connect)
	return r
}

// shedNew answers a connection the tap cannot hold at all (it is out of
// descriptors) and closes it.
func (t *Tap) shedNew(c *net.TCPConn, id uint64, reason string) {
	defer t.wg.Done()
	r := t.newRelay(c, time.Now(), id)
	r.mu.Lock()
	r.kickLocked(http.StatusServiceUnavailable, reason)
	r.mu.Unlock()
	t.shedClose(c, r.shed)
	r.mu.Lock()
	r.finished = true
	ev := r.event(result.KindTapClosed)
	r.mu.Unlock()
	t.finish(ev)
}

// track registers r for Close and the limits, evicting a connection if r
// breaks one. It reports false if the tap is closed.
func (t *Tap) track(r *relay) bool {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return false
	}
	t.conns[r] = struct{}{}
	victim, reason := t.table.add(r)
	t.mu.Unlock()
	if victim != nil {
		status := 0
		if !victim.answered.Load() {
			status = http.StatusServiceUnavailable
		}
		victim.kick(status, reason)
	}
	return true
}

func (t *Tap) untrack(r *relay) {
	t.mu.Lock()
	delete(t.conns, r)
	t.table.remove(r)
	t.mu.Unlock()
}

// markAnswered records the upstream's first bytes on r.
func (t *Tap) markAnswered(r *relay) {
	if r.answered.Swap(true) {
		return
	}
	t.mu.Lock()
	t.table.promote(r, connAnswered)
	t.mu.Unlock()
}

func (t *Tap) serve(c *net.TCPConn, acceptedAt time.Time, id uint64) {
	defer t.wg.Done()
	r := t.newRelay(c, acceptedAt, id)
	if !t.track(r) {
		c.Close()
		ev := r.event(result.KindTapClosed)
		ev.Stopped = true
		t.finish(ev)
		return
	}
	defer t.untrack(r)
	if !r.awaitRequest() || !r.dial() {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(upstreamSide, clientSide) }()
	go func() { defer wg.Done(); r.pipe(clientSide, upstreamSide) }()
	wg.Wait()
	r.conns[upstreamSide].Close()
	r.close()
}

// clientLeft is the reason a client closed its side before it sent
// anything: nil for a FIN, the error for a reset.
type clientLeft struct{ err error }

func (e *clientLeft) Error() string {
	if e.err == nil {
		return "client closed before sending"
	}
	return "client failed before sending: " + e.err.Error()
}

// awaitRequest waits, before the upstream dial, until the client has sent
// something or DialAfter has passed, and arms the first-byte deadline. It
// reports whether to go on to the dial; if not, the client left without a
// word and awaitRequest has reported the connection closed. A WebSocket
// client sends its upgrade request at once, so this costs it nothing,
// while a flood of connections that never speak never reaches upstream:
// the proxy's accept queue stays free for the clients that do.
func (r *relay) awaitRequest() bool {
	c := r.conns[clientSide]
	start := time.Now()
	if !r.setClientDeadline(start.Add(min(r.t.opts.DialAfter, r.t.opts.FirstByteTimeout))) {
		return true // evicted already: dial sees it
	}
	err := awaitInput(c)
	r.setClientDeadline(start.Add(r.t.opts.FirstByteTimeout))
	var left *clientLeft
	if !errors.As(err, &left) {
		return true // spoke, waited DialAfter, or evicted: dial sees which
	}
	r.mu.Lock()
	r.ended[clientSide] = true
	ev := r.event(result.KindTapClientClose)
	if left.err != nil {
		ev.Reset = errors.Is(left.err, syscall.ECONNRESET)
		ev.Text = left.err.Error()
		r.reset = ev.Reset
	}
	r.t.emit(ev)
	r.mu.Unlock()
	r.close()
	return false
}

// setClientDeadline sets the client side's read deadline unless the tap is
// shedding the connection (kick has set its own) and reports whether it did.
func (r *relay) setClientDeadline(d time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shed != nil || r.tapClose {
		return false
	}
	_ = r.conns[clientSide].SetReadDeadline(d)
	return true
}

// dial connects upstream and reports whether the relay is to run; if not,
// it has closed the connection and reported it.
func (r *relay) dial() bool {
	t := r.t
	ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
	defer cancel()
	r.mu.Lock()
	if r.shed != nil || r.tapClose { // evicted, or Close ran, before the dial
		r.mu.Unlock()
		r.close()
		return false
	}
	r.cancelDial = cancel
	r.mu.Unlock()
	uc, err := t.dialUpstream(ctx)

	r.mu.Lock()
	r.cancelDial = nil
	shed, tapClose := r.shed, r.tapClose
	if err == nil && shed == nil && !tapClose {
		r.conns[upstreamSide] = uc.(*net.TCPConn)
	}
	r.mu.Unlock()
	switch {
	case err == nil && shed == nil && !tapClose:
		return true
	case err == nil:
		uc.Close() // evicted or Close ran while we were dialling
	case shed == nil && t.ctx.Err() == nil:
		ev := r.event(result.KindTapRefused)
		ev.Text = err.Error()
		t.emit(ev)
	}
	r.close()
	return false
}

// dialUpstream dials upstream once a dial slot is free.
func (t *Tap) dialUpstream(ctx context.Context) (net.Conn, error) {
	select {
	case t.dials <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for one of %d dial slots: %w", cap(t.dials), ctx.Err())
	}
	defer func() { <-t.dials }()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", t.upstream)
}

// close ends the client side (answering it first if the tap sheds it) and
// reports the connection closed. The upstream side, if any, is closed.
func (r *relay) close() {
	r.mu.Lock()
	shed := r.shed
	r.mu.Unlock()
	if shed != nil {
		r.t.shedClose(r.conns[clientSide], shed)
	} else {
		r.conns[clientSide].Close()
	}
	r.mu.Lock()
	r.finished = true
	ev := r.event(result.KindTapClosed)
	ev.Reset = r.reset
	ev.Stopped = r.tapClose
	r.mu.Unlock()
	r.t.finish(ev)
}

// shedClose answers c as sh says and closes it (see shed.Close). At most a
// quarter of MaxConns shed connections wait for their client's close at
// once: a fast flood of clients that never close would otherwise hold a
// descriptor each for shed.Linger, beyond the limits. Past that they are
// closed at once.
func (t *Tap) shedClose(c *net.TCPConn, sh *shedding) {
	var answer []byte
	if sh.status != 0 {
		answer = shed.Response(sh.status, "wschaos tap", sh.reason, t.opts.RetryAfter)
	}
	drain := t.lingering.Add(1) <= int64(max(16, t.opts.MaxConns/4))
	shed.Close(c, answer, drain)
	t.lingering.Add(-1)
}

// kick makes the tap close the connection of its own accord: evicted over a
// limit, or timed out. It reports false if the connection is already being
// closed.
func (r *relay) kick(status int, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kickLocked(status, reason)
}

// kickLocked is kick with r.mu held. It reports the shed, stops the dial,
// closes upstream and wakes both copy goroutines with a past deadline on the
// client side; the client side is answered and closed by close, after they
// are gone. The event is emitted under r.mu so that it precedes tap-closed.
func (r *relay) kickLocked(status int, reason string) bool {
	if r.finished || r.tapClose || r.shed != nil {
		return false
	}
	r.shed = &shedding{status: status, reason: reason}
	ev := r.event(result.KindTapShed)
	ev.Status, ev.Reason = status, reason
	r.t.emit(ev)
	if r.cancelDial != nil {
		r.cancelDial()
	}
	if up := r.conns[upstreamSide]; up != nil && !r.torn[upstreamSide] {
		r.torn[upstreamSide] = true
		up.Close()
	}
	r.torn[clientSide] = true
	_ = r.conns[clientSide].SetDeadline(time.Now())
	return true
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
			r.lastActive.Store(time.Now().UnixNano())
			if src == clientSide {
				r.spoken()
			} else {
				r.t.markAnswered(r)
			}
			// Count before writing: the peer may answer (and another event be
			// emitted) before Write returns. A failed write takes back what it
			// did not write, so "closed" has the exact count.
			r.bytes[dst].Add(int64(n))
			if dst == clientSide && r.clientGone() {
				// Draining: the client is gone; take what the proxy still
				// sends so it ends its side cleanly (see end).
				r.bytes[dst].Add(int64(-n))
			} else if werr := r.write(dst, buf[:n]); werr != nil {
				r.end(dst, werr)
				if dst != clientSide {
					return
				}
				// The client is gone but the proxy is not: drain it.
			}
		}
		if rerr != nil {
			if errors.Is(rerr, os.ErrDeadlineExceeded) {
				r.timedOut(src)
				return
			}
			r.end(src, rerr)
			return
		}
	}
}

// write writes b to side dst, whose byte count already includes b. Like
// the count, the time of the last bytes down is set before the write: the
// client may read them, answer or close, and the tap report that, before
// Write returns. A failed write takes back what it did not write, and the
// time if it wrote nothing.
func (r *relay) write(dst side, b []byte) error {
	var before int64
	if dst == clientSide {
		before = r.lastDown.Swap(int64(time.Since(r.t.epoch)))
	}
	w, err := r.conns[dst].Write(b)
	if err != nil {
		r.bytes[dst].Add(int64(w - len(b)))
		if w == 0 && dst == clientSide {
			r.lastDown.Store(before)
		}
	}
	return err
}

// spoken lifts the first-byte deadline on the client's first byte, unless a
// half-close bound has replaced it, and moves the connection on from
// silent for the limits.
func (r *relay) spoken() {
	if r.spokeFast.Load() {
		return
	}
	r.spokeFast.Store(true)
	r.mu.Lock()
	r.spoke = true
	if r.shed == nil && !r.ended[upstreamSide] && !r.torn[clientSide] {
		_ = r.conns[clientSide].SetReadDeadline(time.Time{})
	}
	r.mu.Unlock()
	r.t.mu.Lock()
	r.t.table.promote(r, connUnanswered)
	r.t.mu.Unlock()
}

// timedOut handles a read deadline on side s: the client said nothing
// within FirstByteTimeout (408), or the connection stayed half-closed for
// HalfCloseTimeout. A deadline set by kick is not a timeout.
func (r *relay) timedOut(s side) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shed != nil || r.tapClose {
		return
	}
	if s == clientSide && !r.spoke && !r.ended[upstreamSide] {
		r.kickLocked(http.StatusRequestTimeout, fmt.Sprintf("no request within %v", r.t.opts.FirstByteTimeout))
		return
	}
	r.kickLocked(0, fmt.Sprintf("half-closed for %v", r.t.opts.HalfCloseTimeout))
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
//
// Whatever still flows after a FIN, or is drained, is bounded by
// HalfCloseTimeout: a read deadline on the side still open.
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
			r.boundHalfClose(other)
		}
		return
	}
	if s == clientSide {
		r.torn[s] = true
		r.conns[s].Close()
		if !r.torn[other] {
			r.conns[other].CloseWrite()
			r.boundHalfClose(other)
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

// boundHalfClose bounds the reads still to come from side s, the one left
// open. It keeps an earlier, closer deadline.
func (r *relay) boundHalfClose(s side) {
	if r.ended[1-s] && r.ended[s] {
		return
	}
	_ = r.conns[s].SetReadDeadline(time.Now().Add(r.t.opts.HalfCloseTimeout))
}

// shutdown closes both sides on Tap.Close. If upstream is not dialled yet, serve
// closes it when the dial returns.
func (r *relay) shutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shed != nil {
		return // close is answering the client already, within shed.Linger
	}
	r.tapClose = true
	if r.cancelDial != nil {
		r.cancelDial()
	}
	for s, c := range r.conns {
		if c != nil && !r.torn[s] {
			r.torn[s] = true
			c.Close()
		}
	}
}
