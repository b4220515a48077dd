package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pipeNet is an in-memory network: Dial hands one end of a net.Pipe to
// Accept. It works inside a synctest bubble, where every wait is durable and
// time is fake, so timings in these tests are exact.
type pipeNet struct {
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	dials  atomic.Int64
	refuse atomic.Int64 // dials still to refuse
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (p *pipeNet) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p.dials.Add(1)
	if p.refuse.Load() > 0 {
		p.refuse.Add(-1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	c1, c2 := net.Pipe()
	select {
	case p.conns <- c2:
		return c1, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
}

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

func (p *pipeNet) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pipeNet) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// testServer serves HTTP over a pipeNet. handle gets the 1-based number of
// the request.
type testServer struct {
	net    *pipeNet
	srv    *http.Server
	served chan struct{}
	reqs   atomic.Int64

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // handlers; Add only under mu while open
}

func newTestServer(handle func(n int, w http.ResponseWriter, r *http.Request)) *testServer {
	ts := &testServer{net: newPipeNet(), served: make(chan struct{})}
	ts.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		if ts.closed {
			ts.mu.Unlock()
			return
		}
		ts.wg.Add(1)
		ts.mu.Unlock()
		defer ts.wg.Done()
		handle(int(ts.reqs.Add(1)), w, r)
	})}
	go func() {
		defer close(ts.served)
		_ = ts.srv.Serve(ts.net)
	}()
	return ts
}

// close stops the server and waits for its handlers; call it after the
// client stopped.
func (ts *testServer) close() {
	ts.mu.Lock()
	ts.closed = true
	ts.mu.Unlock()
	_ = ts.srv.Close()
	<-ts.served
	ts.wg.Wait()
}

// peer is the server end of one WebSocket connection.
type peer struct {
	t  *testing.T
	ws *websocket.Conn
	in chan protocol.Envelope // closed when reading fails
}

// accept upgrades and starts reading. pongs says whether pings are answered.
func accept(t *testing.T, w http.ResponseWriter, r *http.Request, pongs bool) *peer {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OnPingReceived: func(context.Context, []byte) bool { return pongs },
	})
	if err != nil {
		t.Errorf("accept: %v", err)
		return nil
	}
	p := &peer{t: t, ws: ws, in: make(chan protocol.Envelope, 1024)}
	go func() {
		defer close(p.in)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			e, err := protocol.Decode(b)
			if err != nil {
				t.Errorf("server decode: %v", err)
				return
			}
			p.in <- e
		}
	}()
	return p
}

func (p *peer) next() (protocol.Envelope, bool) {
	e, ok := <-p.in
	return e, ok
}

func (p *peer) hello() protocol.Envelope {
	e, ok := p.next()
	if !ok || e.Type != protocol.TypeHello {
		p.t.Errorf("got %+v (open %v), want hello", e, ok)
	}
	return e
}

func (p *peer) send(e protocol.Envelope) {
	b, err := protocol.Encode(e)
	if err != nil {
		p.t.Errorf("encode: %v", err)
		return
	}
	_ = p.ws.Write(context.Background(), websocket.MessageText, b)
}

func (p *peer) welcome(session string) {
	p.send(protocol.Envelope{Type: protocol.TypeWelcome, Session: session, ClientID: "c"})
}

// drain reads until the client goes away, then closes.
func (p *peer) drain() {
	for range p.in {
	}
	_ = p.ws.CloseNow()
}

func (p *peer) close(code websocket.StatusCode, reason string) {
	_ = p.ws.Close(code, reason)
	for range p.in {
	}
}

// recorder collects events and messages.
type recorder struct {
	mu     sync.Mutex
	evs    []Event
	msgs   []Message
	notify func(Event)
}

func (r *recorder) event(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	if r.notify != nil {
		r.notify(e)
	}
}

func (r *recorder) message(m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
}

func (r *recorder) events(kinds ...EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.evs {
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
			}
		}
	}
	return out
}

func (r *recorder) first(t *testing.T, kind EventKind) Event {
	t.Helper()
	evs := r.events(kind)
	if len(evs) == 0 {
		t.Fatalf("no %s event; got %v", kind, r.kinds())
	}
	return evs[0]
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		s := string(e.Kind)
		if e.Cause != "" {
			s += "(" + string(e.Cause) + ")"
		}
		out = append(out, s)
	}
	return out
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// running is a Client started by start.
type running struct {
	c      *Client
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// start makes a session-mode Client on ts with opts (events and messages
// recorded) and runs it. stop cancels it and returns Run's error.
func start(t *testing.T, ts *testServer, opts Options) *running {
	t.Helper()
	opts.Session = true
	return startAs(t, ts, opts)
}

// startPlain is start in plain mode.
func startPlain(t *testing.T, ts *testServer, opts Options) *running {
	t.Helper()
	opts.Session = false
	return startAs(t, ts, opts)
}

func startAs(t *testing.T, ts *testServer, opts Options) *running {
	t.Helper()
	rec := &recorder{}
	opts.OnEvent = rec.event
	opts.OnMessage = rec.message
	opts.Dial = ts.net.Dial
	c, err := New("ws://fake/ws", opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	return r
}

func (r *running) stop() error {
	r.cancel()
	return <-r.done
}

// stopAndClose stops the client, then the server, in the order that lets
// every goroutine exit.
func stopAndClose(t *testing.T, r *running, ts *testServer) {
	t.Helper()
	if err := r.stop(); err != nil && !errors.Is(err, context.Canceled) {
		var fe *FatalError
		if !errors.As(err, &fe) {
			t.Errorf("Run: got %v, want context.Canceled or *FatalError", err)
		}
	}
	ts.close()
}

// quiet are options that keep the heartbeat out of the way.
func quiet(o Options) Options {
	if o.PingInterval == 0 {
		o.PingInterval = time.Hour
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, NoJitter: true}
	}
	return o
}
