package fakeserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/result"
)

// StatusReplaced is the close code sent to a connection whose client id
// connected again: the newer connection wins.
const StatusReplaced websocket.StatusCode = 4440

// Errors returned by New, Start and Stop.
var (
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("fakeserver: server closed")
	// ErrListening is returned by Start while the server is already listening.
	ErrListening = errors.New("fakeserver: already listening")
	// ErrBadOptions is wrapped by every error New returns for invalid Options.
	ErrBadOptions = errors.New("fakeserver: invalid options")
)

// Options configure a Server. The zero value is usable: a plain ws:// server
// on a free loopback port that echoes and keeps sessions, without push.
type Options struct {
	// Addr is the TCP address to listen on. Defaults to "127.0.0.1:0".
	Addr string
	// Listen, if set, makes the server's listener instead (Addr is then
	// ignored), in New and again in every Start after a Stop. Addr reports
	// the first listener's address. The stress chain serves an in-process
	// network this way, so that the relay in front of the server reaches
	// it without a loopback connection.
	Listen func() (net.Listener, error)
	// TLS serves wss:// with a freshly generated self-signed ECDSA
	// certificate for 127.0.0.1, ::1 and localhost; CertPool trusts it.
	TLS bool
	// PushInterval is how often each session gets a sequenced
	// server-to-client msg (body "s<seq>"), also while its client is
	// disconnected within the resume window. One ticker serves every
	// session, so they all get their next message at the same instant.
	// 0 means no push. SetPush changes it at run time.
	PushInterval time.Duration
	// ResumeWindow is how long a session outlives its connection so the
	// client can resume it. Defaults to 30s.
	ResumeWindow time.Duration
	// ResumeMessages is how many of the latest server messages a session
	// keeps for replay; older ones are a gap. Defaults to 1000.
	ResumeMessages int
	// ReplayOverlap makes the server deliver at least once rather than
	// exactly once: on resume it sends this many messages the client already
	// had again, before FromSeq. Clients must drop the duplicates. 0 (the
	// default) replays exactly what was missed.
	ReplayOverlap int
	// MaxConnections refuses upgrades beyond this many live WebSocket
	// connections with 503 and Retry-After: LimitRetryAfter. 0 means
	// unlimited.
	MaxConnections int
	// LimitRetryAfter is the Retry-After sent with the MaxConnections 503,
	// rounded up to whole seconds. Defaults to 1s.
	LimitRetryAfter time.Duration
	// HandshakeTimeout bounds a connection that is not upgraded: the
	// request headers must arrive within it (http.Server's
	// ReadHeaderTimeout), and a connection kept alive after a response that
	// was not an upgrade (a 404, a refusal) is closed after it of silence
	// (IdleTimeout). Default 10s.
	HandshakeTimeout time.Duration
	// MaxTCPConns is how many TCP connections the server holds at once,
	// upgraded or not. Beyond it a new connection is answered with a
	// minimal 503 (Retry-After: LimitRetryAfter; over TLS it is closed
	// without one) and closed, with a shed event, so that a flood of
	// connections dialled straight at the server cannot run the process
	// out of descriptors. Default: a quarter of the process's descriptor
	// limit (5,000 of 20,000), or 1,000 where there is none; behind the
	// wire tap, whose own limits are lower, it never acts.
	MaxTCPConns int
	// HelloTimeout, when positive, closes with 1008 a connection that sends
	// no hello within it. 0 (the default) waits for ever, so raw clients
	// that never send hello still get their echoes.
	HelloTimeout time.Duration
	// PlainAfter, when positive, treats a connection that has said no hello
	// this long after its upgrade as a plain WebSocket client (event plain):
	// every PushInterval it gets the raw text "p<seq>", seq in ten
	// digits (event push, seq counting from 1 per connection), and its echo of a push is recorded
	// (event raw with that seq) but not echoed back, so that an echoing
	// client does not start a loop. Other text is echoed as always. A
	// client that says hello gets the session protocol; it must do so
	// within PlainAfter or it will read raw pushes first. 0 (the default)
	// never pushes raw text.
	PlainAfter time.Duration
	// OnEvent receives every event. Calls are serialised; it must not block
	// and must not call the Server's methods.
	OnEvent func(Event)
	// Logger receives the same events at debug level, and errors.
	// Defaults to discarding.
	Logger *slog.Logger
}

// Event is one thing the server did or saw. Fields that do not apply to a
// Kind are zero.
type Event struct {
	Time     time.Time   // when it happened (carries a monotonic reading)
	Kind     result.Kind // a kind of the result vocabulary with source server
	Conn     uint64      // TCP connection number, 1-based, in accept order
	ClientID string      // from the connection's hello
	Session  string
	Seq      uint64
	// Code is a WebSocket close code; Status the HTTP status of a refused
	// upgrade.
	Code   result.CloseCode
	Status int
	Reason string
	// Resumed, on welcome, says the session was resumed; Count is the gap
	// the welcome reports (or, on sessions-forgotten, how many sessions).
	Resumed bool
	Count   uint64
	// Text is for people (an error message, what a hostile frame was).
	Text   string
	Remote string // the client's address as the server sees it
}

// Server is a fake WebSocket server that speaks package protocol and
// misbehaves on command. All methods are safe for concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	addr    string
	scheme  string
	tlsConf *tls.Config
	pool    *x509.CertPool

	nextConn atomic.Uint64
	mute     atomic.Bool
	done     chan struct{} // closed by Close
	pushWake chan struct{} // SetPush nudges the push loop
	wg       sync.WaitGroup
	evMu     sync.Mutex // serialises OnEvent

	mu           sync.Mutex
	closed       bool
	lis          *listening // nil while stopped
	tcp          map[*trackedConn]struct{}
	conns        map[uint64]*conn
	byClient     map[string]*conn
	sessions     map[string]*session
	tombstones   map[string]tombstone
	upgrading    int
	shedding     int // shed connections lingering (see shed)
	rejectStatus int
	maxConns     int
	rejectRetry  string
	stall        chan struct{} // non-nil while stalling; closed to release
	pushInterval time.Duration
}

// listening is one Start..Stop period: a listener and the http.Server on it.
type listening struct {
	ln        net.Listener
	hs        *http.Server
	stopped   chan struct{} // closed by Stop
	serveDone chan struct{}
}

// New validates opts, starts listening and returns the running server. Close
// it when done.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	switch {
	case opts.PushInterval < 0:
		return nil, fmt.Errorf("%w: PushInterval is %v, want 0 (no push) or more", ErrBadOptions, opts.PushInterval)
	case opts.ResumeWindow < 0:
		return nil, fmt.Errorf("%w: ResumeWindow is %v, want 0 (default 30s) or more", ErrBadOptions, opts.ResumeWindow)
	case opts.ReplayOverlap < 0:
		return nil, fmt.Errorf("%w: ReplayOverlap is %d, want 0 or more", ErrBadOptions, opts.ReplayOverlap)
	case opts.ResumeMessages < 0:
		return nil, fmt.Errorf("%w: ResumeMessages is %d, want 0 (default 1000) or more", ErrBadOptions, opts.ResumeMessages)
	case opts.MaxConnections < 0:
		return nil, fmt.Errorf("%w: MaxConnections is %d, want 0 (unlimited) or more", ErrBadOptions, opts.MaxConnections)
	case opts.LimitRetryAfter < 0:
		return nil, fmt.Errorf("%w: LimitRetryAfter is %v, want 0 (default 1s) or more", ErrBadOptions, opts.LimitRetryAfter)
	case opts.HandshakeTimeout < 0:
		return nil, fmt.Errorf("%w: HandshakeTimeout is %v, want 0 (default 10s) or more", ErrBadOptions, opts.HandshakeTimeout)
	case opts.MaxTCPConns < 0:
		return nil, fmt.Errorf("%w: MaxTCPConns is %d, want 0 (default) or more", ErrBadOptions, opts.MaxTCPConns)
	case opts.PlainAfter < 0:
		return nil, fmt.Errorf("%w: PlainAfter is %v, want 0 (no raw pushes) or more", ErrBadOptions, opts.PlainAfter)
	case opts.HelloTimeout < 0:
		return nil, fmt.Errorf("%w: HelloTimeout is %v, want 0 (none) or more", ErrBadOptions, opts.HelloTimeout)
	}
	if opts.ResumeWindow == 0 {
		opts.ResumeWindow = 30 * time.Second
	}
	if opts.ResumeMessages == 0 {
		opts.ResumeMessages = 1000
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.MaxTCPConns == 0 {
		opts.MaxTCPConns = defaultMaxTCPConns()
	}
	if opts.LimitRetryAfter == 0 {
		opts.LimitRetryAfter = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		opts:         opts,
		maxConns:     opts.MaxConnections,
		log:          log,
		scheme:       "ws",
		done:         make(chan struct{}),
		pushWake:     make(chan struct{}, 1),
		tcp:          make(map[*trackedConn]struct{}),
		conns:        make(map[uint64]*conn),
		byClient:     make(map[string]*conn),
		sessions:     make(map[string]*session),
		tombstones:   make(map[string]tombstone),
		pushInterval: opts.PushInterval,
	}
	if opts.TLS {
		conf, pool, err := selfSigned()
		if err != nil {
			return nil, err
		}
		s.tlsConf, s.pool, s.scheme = conf, pool, "wss"
	}
	if err := s.listen(opts.Addr); err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go s.pushLoop()
	return s, nil
}

// Addr returns the host:port the server is bound to. It stays the same
// across Stop and Start.
func (s *Server) Addr() string { return s.addr }

// URL returns the WebSocket URL: "ws://ADDR/ws" or "wss://ADDR/ws". The
// server also accepts /ws/<id>, which names the client (see
// Event.ClientID) before, or without, a hello.
func (s *Server) URL() string { return s.scheme + "://" + s.addr + "/ws" }

// CertPool returns a pool trusting the generated certificate, or nil
// without TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CertPEM returns the generated certificate PEM-encoded, or nil without TLS:
// the CA file for a client in another process or language (OpenSSL's
// SSL_CERT_FILE, Node's NODE_EXTRA_CA_CERTS, curl's --cacert). The server
// is its own CA, so this one certificate is all a client needs to trust.
func (s *Server) CertPEM() []byte {
	if s.tlsConf == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.tlsConf.Certificates[0].Certificate[0]})
}

// Start listens again on Addr after Stop.
func (s *Server) Start() error {
	return s.listen(s.addr)
}

func (s *Server) listen(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.lis != nil {
		return ErrListening
	}
	var raw net.Listener
	var err error
	if s.opts.Listen != nil {
		if raw, err = s.opts.Listen(); err != nil {
			return fmt.Errorf("fakeserver: listen: %w", err)
		}
	} else if raw, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("fakeserver: listen on %s: %w", addr, err)
	}
	if s.addr == "" {
		s.addr = raw.Addr().String() // only in New: Addr reads it without a lock
	}
	l := &listening{stopped: make(chan struct{}), serveDone: make(chan struct{})}
	l.ln = &trackingListener{Listener: raw, s: s, l: l}
	if s.tlsConf != nil {
		l.ln = tls.NewListener(l.ln, s.tlsConf)
	}
	l.hs = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: s.opts.HandshakeTimeout,
		// Without it a connection kept alive after a 404 would be held for
		// ever (IdleTimeout falls back to ReadTimeout, which is 0).
		IdleTimeout: s.opts.HandshakeTimeout,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	s.lis = l
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(l.serveDone)
		_ = l.hs.Serve(l.ln) // returns when Stop or Close closes the listener
	}()
	s.emit(Event{Kind: result.KindListen, Text: s.scheme + "://" + s.addr})
	return nil
}

// Stop stops listening (dials are refused) and drops every connection
// abruptly, without close frames. Sessions survive, as they would a restart
// that keeps state; see ForgetSessions. Stop waits for the connections to
// end. Stop while stopped does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	l := s.lis
	s.lis = nil
	if l != nil {
		close(l.stopped)
	}
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	err := l.hs.Close() // closes the listener and connections not yet upgraded
	<-l.serveDone
	s.dropTCP()
	s.waitConns()
	s.emit(Event{Kind: result.KindListenerStop})
	if err != nil {
		return fmt.Errorf("fakeserver: stop: %w", err)
	}
	return nil
}

// dropTCP closes every accepted TCP connection abruptly.
func (s *Server) dropTCP() {
	s.mu.Lock()
	tcps := make([]*trackedConn, 0, len(s.tcp))
	for tc := range s.tcp {
		tcps = append(tcps, tc)
	}
	live := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		live = append(live, c)
	}
	s.mu.Unlock()
	for _, c := range live {
		c.drop()
	}
	for _, tc := range tcps {
		_ = tc.Close()
	}
}

func (s *Server) waitConns() {
	s.mu.Lock()
	live := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		live = append(live, c)
	}
	s.mu.Unlock()
	for _, c := range live {
		<-c.finished
	}
}

// Close stops listening, drops every connection, ends every session and
// waits for all the server's goroutines to exit. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	if s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
	s.mu.Unlock()

	err := s.Stop()
	s.dropTCP() // connections that raced with the listener closing

	s.mu.Lock()
	for id, ss := range s.sessions {
		s.cancelExpiry(ss)
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// CloseAll starts the close handshake with code and reason on every live
// connection and returns how many. It does not wait for the handshakes. Codes
// that may not appear on the wire (1005, 1006, 1015) are sent as 1011 by
// coder/websocket; use DropAll for an abnormal closure.
func (s *Server) CloseAll(code websocket.StatusCode, reason string) int {
	n := 0
	for _, c := range s.liveConns() {
		if c.closeWith(code, reason) {
			n++
		}
	}
	return n
}

// DropAll closes the TCP connection under every live WebSocket connection
// abruptly, without a close frame: the client sees 1006. It returns how many.
func (s *Server) DropAll() int {
	live := s.liveConns()
	for _, c := range live {
		c.drop()
		_ = c.tcp.Close()
	}
	return len(live)
}

// DropMidFrame makes every live connection write the header and half the
// payload of a text frame, then close TCP. It returns how many connections
// were told; each does it after the message it is writing, if any.
func (s *Server) DropMidFrame() int {
	n := 0
	for _, c := range s.liveConns() {
		select {
		case c.dropMid <- struct{}{}:
			n++
		default: // already told
		}
	}
	return n
}

// SetMutePongs withholds pongs while on: pings are read (event "ping") but
// not answered (event "pong-withheld"), and TCP stays healthy. Pushed
// messages keep flowing, so a client that counts any inbound frame as
// liveness still sees traffic; set PushInterval (or SetPush) to 0 for a
// silent, pong-less peer.
func (s *Server) SetMutePongs(on bool) { s.mute.Store(on) }

// SetReject refuses every upgrade with status, and a Retry-After header
// when retryAfter is not empty. Status 0 accepts again.
func (s *Server) SetReject(status int, retryAfter string) {
	s.mu.Lock()
	s.rejectStatus, s.rejectRetry = status, retryAfter
	s.mu.Unlock()
}

// SetMaxConnections changes the connection limit at run time (see
// Options.MaxConnections); 0 removes it. Live connections beyond a lowered
// limit are kept: the limit applies to new upgrades.
func (s *Server) SetMaxConnections(n int) {
	s.mu.Lock()
	s.maxConns = max(n, 0)
	s.mu.Unlock()
}

// SetStall, while on, accepts TCP connections and reads their upgrade
// request but never answers it. SetStall(false) (or Stop, or Close) closes
// the held connections; the ones that arrive afterwards are served.
func (s *Server) SetStall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.stall == nil && !s.closed:
		s.stall = make(chan struct{})
	case !on && s.stall != nil:
		close(s.stall)
		s.stall = nil
	}
}

// ForgetSessions drops all resume state, as a restart without state would:
// no session can be resumed and no gap can be computed for an old one.
// Connections that are live keep their sessions until they end.
func (s *Server) ForgetSessions() {
	s.mu.Lock()
	n := len(s.sessions)
	for id, ss := range s.sessions {
		s.cancelExpiry(ss)
		ss.forgotten = true
		if ss.conn == nil {
			delete(s.sessions, id)
		}
	}
	clear(s.tombstones)
	s.mu.Unlock()
	s.emit(Event{Kind: result.KindSessionsForgotten, Count: uint64(n)})
}

// SetPush changes the push interval of every session; 0 stops pushing.
// Negative intervals count as 0.
func (s *Server) SetPush(interval time.Duration) {
	s.mu.Lock()
	s.pushInterval = max(interval, 0)
	s.mu.Unlock()
	select {
	case s.pushWake <- struct{}{}:
	default:
	}
}

// LastSeq returns the last server sequence number produced for the client's
// current session (0 when it has none). After SetPush(0) returns it no longer
// grows, so a caller can wait for the client to have everything.
func (s *Server) LastSeq(clientID string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last uint64
	for _, ss := range s.sessions {
		if ss.clientID == clientID && !ss.forgotten {
			last = max(last, ss.lastSeq)
		}
	}
	return last
}

// LiveConns returns how many WebSocket connections are live.
func (s *Server) LiveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) liveConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		live = append(live, c)
	}
	return live
}

// emit stamps e and hands it to OnEvent and the logger. It must not be
// called with s.mu held.
func (s *Server) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
	s.log.Debug("fakeserver", "kind", e.Kind, "conn", e.Conn, "client", e.ClientID,
		"session", e.Session, "seq", e.Seq, "code", int(e.Code), "status", e.Status, "reason", e.Reason,
		"text", e.Text, "remote", e.Remote)
}

// pushLoop appends a message to every session each push interval. It exits
// when Close is called.
func (s *Server) pushLoop() {
	defer s.wg.Done()
	var t *time.Ticker
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	current := time.Duration(-1)
	for {
		s.mu.Lock()
		iv := s.pushInterval
		s.mu.Unlock()
		if iv != current {
			current = iv
			if t != nil {
				t.Stop()
				t = nil
			}
			if iv > 0 {
				t = time.NewTicker(iv)
			}
		}
		var tick <-chan time.Time
		if t != nil {
			tick = t.C
		}
		select {
		case <-s.done:
			return
		case <-s.pushWake:
		case <-tick:
			s.pushTick()
		}
	}
}

// pushTick is pushAll for the ticker: a tick that fires as SetPush(0) runs
// pushes nothing, so once SetPush(0) returns no message is produced.
func (s *Server) pushTick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pushInterval > 0 {
		s.pushLocked()
	}
}

func (s *Server) pushAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked()
}

// pushLocked appends one message to every session and owes a raw push to
// every plain connection. s.mu must be held.
func (s *Server) pushLocked() {
	for _, ss := range s.sessions {
		ss.lastSeq++
		if ss.conn != nil {
			ss.conn.poke()
		}
	}
	for _, c := range s.conns {
		if c.plain && c.clientID == "" {
			c.pushDue = true
			c.poke()
		}
	}
}

type connKey struct{}

// trackingListener numbers and records every accepted TCP connection, so
// Stop and DropAll can close them abruptly, hijacked or not.
type trackingListener struct {
	net.Listener
	s *Server
	l *listening
}

func (tl *trackingListener) Accept() (net.Conn, error) {
	for {
		c, err := tl.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, id: tl.s.nextConn.Add(1), s: tl.s}
		tl.s.mu.Lock()
		stopped := tl.s.closed
		select {
		case <-tl.l.stopped:
			stopped = true
		default:
		}
		over := !stopped && len(tl.s.tcp) >= tl.s.opts.MaxTCPConns
		if !stopped && !over {
			tl.s.tcp[tc] = struct{}{}
		}
		tl.s.mu.Unlock()
		if over {
			tl.s.shed(c, tc.id)
			continue
		}
		if stopped {
			_ = c.Close() // raced with Stop: the client sees the connection closed
		}
		return tc, nil
	}
}

// trackedConn is an accepted TCP connection with its number.
type trackedConn struct {
	net.Conn
	id   uint64
	s    *Server
	once sync.Once
}

func (tc *trackedConn) Close() error {
	err := tc.Conn.Close()
	tc.once.Do(func() {
		tc.s.mu.Lock()
		delete(tc.s.tcp, tc)
		tc.s.mu.Unlock()
	})
	return err
}

// connFrom returns the connection a request arrived on: the one to write to
// (TLS or plain) and the TCP connection under it.
func connFrom(r *http.Request) (wire net.Conn, tc *trackedConn) {
	wire, _ = r.Context().Value(connKey{}).(net.Conn)
	under := wire
	if t, ok := wire.(*tls.Conn); ok {
		under = t.NetConn()
	}
	tc, _ = under.(*trackedConn)
	return wire, tc
}
