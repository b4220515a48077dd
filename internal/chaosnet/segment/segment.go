package segment

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Options configure a [Segment]. The zero value means the defaults.
type Options struct {
	// Seed seeds every random decision of the link: the same seed, faults
	// and packets give the same decisions. Default 0, itself a seed, so
	// runs replay unless told otherwise.
	Seed uint64
	// MTU is the link's MTU in bytes, for both stacks, IP header included.
	// Default 1500, Ethernet's, so TCP segments are the size a client sees
	// on a real path (MSS 1460, less TCP options).
	MTU int
	// Listen is the kernel address the entry relay listens on ([Segment.Addr]).
	// Default "127.0.0.1:0", a free loopback port.
	Listen string
	// Up and Down are the faults the link starts with. Default none.
	Up, Down Faults
	// Trace, if not nil, receives every decision of the link, on the
	// direction's reader goroutine, in index order per direction. It must
	// not block: it holds up the link.
	Trace func(Decision)
}

const (
	defaultMTU = 1500
	// minMTU is the datagram size every IPv4 host must accept (RFC 791);
	// no real path a client meets is narrower.
	minMTU = 576
	// dialTimeout bounds the relays' dials: the kernel dial upstream, and
	// the dial through the client stack for an entry connection (whose SYN
	// faults may drop; TCP retries it on its own).
	dialTimeout = 30 * time.Second
)

// Segment is a userspace network segment between two TCP/IP stacks, with
// packet faults on the link between them.
type Segment struct {
	upstream string
	client   *stack.Stack
	server   *stack.Stack
	links    [2]*link
	listener *stackListener // on the server stack
	entry    *net.TCPListener

	ctx    context.Context // ended by Close: stops dials, accepts and links
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops and relays
	linkWG sync.WaitGroup // link goroutines

	mu     sync.Mutex
	closed bool
	relays map[*relay]struct{}
}

// New starts a segment whose server stack relays every connection it
// accepts to upstream ("host:port", dialled over the kernel), and whose
// entry relay listens on opts.Listen.
//
// It starts two goroutines per direction for the link (see [Segment.Close]),
// one accepting on the server stack, one accepting on the entry relay, and
// the stacks' own TCP goroutines (GOMAXPROCS per stack).
func New(upstream string, opts Options) (*Segment, error) {
	if upstream == "" {
		return nil, errors.New("segment: upstream must be host:port")
	}
	if opts.MTU == 0 {
		opts.MTU = defaultMTU
	}
	if opts.MTU < minMTU || opts.MTU > 65535 {
		return nil, fmt.Errorf("segment: mtu %d outside %d..65535", opts.MTU, minMTU)
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	for _, f := range []*Faults{&opts.Up, &opts.Down} {
		if err := f.validate(); err != nil {
			return nil, err
		}
	}
	s := &Segment{upstream: upstream, relays: make(map[*relay]struct{})}
	if err := s.start(opts); err != nil {
		s.teardown()
		return nil, err
	}
	return s, nil
}

// start builds the stacks, the link and the listeners. On error, teardown
// releases what it built.
func (s *Segment) start(opts Options) error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	client, cep, err := newStack(clientAddr, opts.MTU)
	if err != nil {
		return err
	}
	s.client = client
	server, sep, err := newStack(serverAddr, opts.MTU)
	if err != nil {
		return err
	}
	s.server = server
	s.links[Up] = newLink(Up, cep, sep, opts.Seed, opts.Up, client.Stats().TCP.Retransmits, opts.Trace)
	s.links[Down] = newLink(Down, sep, cep, opts.Seed, opts.Down, server.Stats().TCP.Retransmits, opts.Trace)
	for _, l := range s.links {
		s.linkWG.Go(func() { l.read(s.ctx) })
		s.linkWG.Go(func() { l.run(s.ctx) })
	}

	if s.listener, err = listenStack(server); err != nil {
		return err
	}
	laddr, err := net.ResolveTCPAddr("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("segment: listen %q: %w", opts.Listen, err)
	}
	if s.entry, err = net.ListenTCP("tcp", laddr); err != nil {
		return fmt.Errorf("segment: listen: %w", err)
	}
	s.wg.Go(s.acceptStack)
	s.wg.Go(s.acceptEntry)
	return nil
}

// Addr returns the entry relay's kernel address, "127.0.0.1:port", for a
// client outside this process. Its kernel TCP connection ends at the relay,
// on this machine's loopback; the relay opens a connection through the
// client stack for it, and the packet faults act on that one. So the
// client's own TCP sees no loss, only its effects: stalls, delay,
// throughput, and the resets and closes the relay passes on.
func (s *Segment) Addr() string { return s.entry.Addr().String() }

// Dial opens a connection from the client stack through the link to the
// server stack, which relays it upstream: a client in this process that
// dials here has its TCP inside the segment, faults and all. network must
// be "tcp" or "tcp4"; addr is ignored, every connection goes upstream. Its
// signature is that of net.Dialer.DialContext, for a client's dial hook.
//
// The connection is a gonet TCP connection of the client stack;
// [Segment.Close] aborts it, with the stack.
func (s *Segment) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("segment: dial: network %q is not tcp", network)
	}
	if err := s.ctx.Err(); err != nil {
		return nil, errors.New("segment: dial: segment closed")
	}
	c, err := dialStack(ctx, s.client)
	if err != nil {
		return nil, err
	}
	return c.TCPConn, nil
}

// SetFaults replaces the faults of one direction, from the next packet
// the link reads on. Safe for concurrent use.
func (s *Segment) SetFaults(dir Direction, f Faults) error {
	if !dir.valid() {
		return fmt.Errorf("segment: set faults: no direction %d", int(dir))
	}
	if err := f.validate(); err != nil {
		return err
	}
	f = f.withDefaults()
	s.links[dir].faults.Store(&f)
	return nil
}

// Stats returns what the link has done so far. Safe for concurrent use.
func (s *Segment) Stats() Stats {
	return Stats{Up: s.links[Up].packets(), Down: s.links[Down].packets()}
}

// acceptStack relays every connection the server stack accepts upstream.
// It returns when Close ends the segment.
func (s *Segment) acceptStack() {
	for {
		c, err := s.listener.accept(s.ctx)
		if err != nil {
			return
		}
		s.wg.Go(func() { s.serveUpstream(c) })
	}
}

// serveUpstream dials upstream for one stack connection and relays it. A
// failed dial resets the client's connection: it has been accepted, so a
// refusal can only reach it as a reset.
func (s *Segment) serveUpstream(c stackConn) {
	ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", s.upstream)
	cancel()
	if err != nil {
		c.reset()
		return
	}
	s.relay(c, kernelConn{up.(*net.TCPConn)})
}

// acceptEntry relays every kernel connection the entry relay accepts
// through the client stack. It returns when Close closes the listener.
func (s *Segment) acceptEntry() {
	for {
		c, err := s.entry.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			// Temporary failures (EMFILE and the like): back off briefly.
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s.wg.Go(func() { s.serveEntry(kernelConn{c}) })
	}
}

// serveEntry dials through the client stack for one entry connection and
// relays it.
func (s *Segment) serveEntry(c kernelConn) {
	ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
	sc, err := dialStack(ctx, s.client)
	cancel()
	if err != nil {
		c.reset()
		return
	}
	s.relay(c, sc)
}

// relay runs a relay between a and b on the calling goroutine (and one
// more) until both ways are done, or Close stops it.
func (s *Segment) relay(a, b end) {
	r := &relay{ends: [2]end{a, b}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		r.stop(false)
		return
	}
	s.relays[r] = struct{}{}
	s.mu.Unlock()

	r.run()

	s.mu.Lock()
	delete(s.relays, r)
	s.mu.Unlock()
}

// Close stops the segment and waits for every goroutine it started: the
// two accept loops (they return when their listeners close), the relays
// (their connections are closed, with a FIN), the link's reader and
// deliverer of each direction (they return when the segment's context
// ends; packets still scheduled are dropped), and the stacks' own TCP
// goroutines (they end with the stacks, which abort every connection left,
// those from Dial too). Close is idempotent.
func (s *Segment) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	relays := make([]*relay, 0, len(s.relays))
	for r := range s.relays {
		relays = append(relays, r)
	}
	s.mu.Unlock()

	var err error
	if e := s.entry.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
		err = fmt.Errorf("segment: close: %w", e)
	}
	s.teardownRelays(relays)
	s.teardown()
	return err
}

func (s *Segment) teardownRelays(relays []*relay) {
	s.cancel() // ends the accept loop on the server stack and pending dials
	for _, r := range relays {
		r.stop(false)
	}
	s.wg.Wait()
}

// teardown stops the link and the stacks, whatever of them exists.
func (s *Segment) teardown() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.entry != nil {
		_ = s.entry.Close()
	}
	s.wg.Wait()
	s.linkWG.Wait()
	if s.listener != nil {
		s.listener.close()
	}
	for _, st := range []*stack.Stack{s.client, s.server} {
		if st != nil {
			st.Destroy()
		}
	}
}
