package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/supervise"
	"github.com/wschaos/wschaos/result"
)

// Outside clients: a program in any language, started per client and per
// scenario with RunOptions.Command, that connects to WSCHAOS_URL. The
// harness cannot see inside it, so its lifecycle is derived from the wire
// tap and the fake server (see wireObserver) and written into the timeline
// as client events marked result.ViaWire; every check then works
// unchanged, and the checks that need the client's cooperation say not
// applicable. Each client has a tap of its own and a URL path naming it
// (/ws/<id>), so that the tap's and the server's events say whose they
// are, even for clients that never say hello and when many run at once.

// Environment of an outside client.
const (
	EnvURL      = "WSCHAOS_URL"       // ws:// or wss:// URL to dial: the client's own tap, path /ws/<id>
	EnvClientID = "WSCHAOS_CLIENT_ID" // the id to say hello with: c1, c2, ...
	EnvSeed     = "WSCHAOS_SEED"      // the run's seed, for the client's own randomness
	EnvCAFile   = "WSCHAOS_CA_FILE"   // wss only: PEM file of the certificate to trust
)

const (
	// killGrace is how long an outside client has to exit after SIGTERM
	// before its process group gets SIGKILL.
	killGrace = 2 * time.Second
	// maxLines caps the recorded lines per stream, so a chatty client
	// cannot bloat the timeline; maxLineLen caps each line.
	maxLines   = 2000
	maxLineLen = 300
	// outsideStartup is the extra time an outside client gets to warm up:
	// a runtime (Node.js, a JVM) can take seconds to start on a loaded
	// machine.
	outsideStartup = 5 * time.Second
	// plainAfter is how long after its upgrade an outside client may say
	// hello; one that has not by then is a plain WebSocket client, ready
	// on the upgrade and sent raw pushes (fakeserver.Options.PlainAfter).
	// A client that speaks the protocol says hello as soon as it is
	// connected; a second leaves room for a runtime busy starting up.
	plainAfter = time.Second
)

// Outside reports whether client id was an outside program, measured from the
// wire rather than from its own events.
func (tl *Timeline) Outside(id string) bool {
	for _, e := range tl.Events {
		if e.Kind == result.KindOutside && e.Client == id {
			return true
		}
	}
	return false
}

// outsideClients lists the clients of tl that were outside programs.
func (tl *Timeline) outsideClients() []string {
	var out []string
	for _, id := range tl.Clients {
		if tl.Outside(id) {
			out = append(out, id)
		}
	}
	return out
}

// clientTap is an outside client's own wire tap: its events are the
// client's, renumbered into the run's one sequence of tap connections.
type clientTap struct {
	id    string
	tap   *chaosnet.Tap
	conns map[uint64]uint64 // the tap's own number -> the run's; used by the tap's serialised callback only
}

// openTaps gives every outside client a tap of its own in front of the
// proxy.
func (r *run) openTaps() error {
	if r.wire == nil {
		return nil
	}
	for _, id := range r.ids {
		ct := &clientTap{id: id, conns: map[uint64]uint64{}}
		tap, err := chaosnet.NewTap(r.env.tapUpstream(), func(ev chaosnet.TapEvent) { r.onClientTap(ct, ev) })
		if err != nil {
			return fmt.Errorf("harness: wire tap for %s: %w", id, err)
		}
		ct.tap = tap
		r.taps = append(r.taps, ct)
	}
	return nil
}

func (r *run) closeTaps() error {
	var errs []error
	for _, ct := range r.taps {
		errs = append(errs, ct.tap.Close())
	}
	return errors.Join(errs...)
}

func (r *run) onClientTap(ct *clientTap, ev chaosnet.TapEvent) {
	if ev.Kind == result.KindTapConnect {
		ct.conns[ev.Conn] = r.tapConns.Add(1)
	}
	n := ct.conns[ev.Conn]
	if ev.Kind == result.KindTapClosed {
		delete(ct.conns, ev.Conn)
	}
	ev.Conn = n
	e := TapEvent(ev, r.rec.since)
	e.Client = ct.id
	r.note(ev.Time, e, nil)
	r.observe(ev.Time, e)
}

// urlFor is the URL outside client i dials: its own tap, its id in the
// path.
func (r *run) urlFor(i int) string {
	u, _ := url.Parse(r.env.ClientURL()) // the Env's own URL always parses
	u.Host, u.Path = r.taps[i].tap.Addr(), "/ws/"+r.ids[i]
	return u.String()
}

// startOutside starts one process of the command per client and returns
// the function that stops them (and every process they started) and waits
// for them; stop must be called, also on error paths, and is safe to call
// once.
func (r *run) startOutside(ctx context.Context) (stop func(), err error) {
	var dir, ca string
	if pem := r.env.CertPEM(); pem != nil {
		if dir, err = os.MkdirTemp("", "wschaos-ca-"); err != nil {
			return nil, fmt.Errorf("harness: outside client CA file: %w", err)
		}
		ca = filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(ca, pem, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("harness: outside client CA file: %w", err)
		}
	}
	var procs []*process
	var wg sync.WaitGroup
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Whatever the wire shows from now on is the harness's doing.
			for _, o := range r.wire {
				o.setStopping()
			}
			var stops sync.WaitGroup
			for _, p := range procs {
				stops.Go(p.stop)
			}
			stops.Wait()
			wg.Wait()
			os.RemoveAll(dir)
		})
	}
	for i, id := range r.ids {
		p, err := r.startOne(ctx, i, ca)
		if err != nil {
			stop()
			return nil, err
		}
		procs = append(procs, p)
		wg.Go(func() { r.awaitExit(id, p) })
	}
	return stop, nil
}

// startOne starts the process of outside client i.
func (r *run) startOne(ctx context.Context, i int, ca string) (*process, error) {
	id := r.ids[i]
	env := append(os.Environ(),
		EnvURL+"="+r.urlFor(i),
		EnvClientID+"="+id,
		fmt.Sprintf("%s=%d", EnvSeed, r.opts.Seed),
	)
	if ca != "" {
		env = append(env, EnvCAFile+"="+ca)
	}
	onLine := func(kind result.Kind, line string) {
		r.note(time.Now(), result.Event{Source: result.SourceClient, Client: id, Kind: kind, Text: line}, nil)
	}
	argv := append(slices.Clone(r.opts.Supervisor), r.opts.Command...)
	p, err := startProcess(ctx, argv, env, onLine)
	if err != nil {
		return nil, fmt.Errorf("harness: start outside client %q: %w", r.opts.Command[0], err)
	}
	if len(r.opts.Supervisor) > 0 {
		p.grace += supervise.Grace
	}
	r.note(time.Now(), result.Event{Source: result.SourceHarness, Kind: result.KindOutside, Client: id, PID: p.pid,
		Text: strings.Join(r.opts.Command, " ")}, nil)
	return p, nil
}

// awaitExit records how outside client id's process ended.
func (r *run) awaitExit(id string, p *process) {
	<-p.done
	text := "exited: " + errText(p.err)
	if p.err == nil {
		text = "exited: status 0"
	}
	r.note(time.Now(), result.Event{Source: result.SourceClient, Kind: result.KindReturned, Client: id, PID: p.pid, Text: text}, func() {
		r.stopped[id] = p.err
	})
}

// warmOrExited is allWarm, or else an outside client that has exited, which
// nothing is left to wait for. Called with r.mu held.
func (r *run) warmOrExited() bool {
	if r.allWarm() {
		return true
	}
	if r.wire == nil {
		return false
	}
	return len(r.stopped) > 0
}

// exitedEarly reports an outside client that exited before the harness
// stopped it, and says how.
func (r *run) exitedEarly() (string, bool) {
	if r.wire == nil {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.ids {
		err, exited := r.stopped[id]
		if !exited {
			continue
		}
		status := "status 0"
		if err != nil {
			status = err.Error()
		}
		who := "the outside client"
		if len(r.ids) > 1 {
			who = "outside client " + id
		}
		return who + " exited on its own (" + status + "); its stderr is on the timeline", true
	}
	return "", false
}

// observe feeds one recorded tap or server event to the wire observer of
// the client it names and records what it derives. It does nothing for
// the reference client.
func (r *run) observe(at time.Time, e result.Event) {
	o := r.wire[e.Client]
	if o == nil {
		return
	}
	e.TMS = r.rec.since(at)
	for _, d := range o.feed(e) {
		r.note(r.rec.at(d.TMS), d, func() { r.state[d.Client] = d.Kind })
	}
}

// wireObserver derives an outside client's lifecycle from the events of
// its own wire tap and of the fake server's connections that name it.
// Every event it derives is a client event marked result.ViaWire:
//
//   - dialing: a tap-connect.
//   - ready: the connection is usable. For a client that speaks the
//     session protocol that is the server's welcome; for a plain WebSocket
//     client (one that says no hello: the server's plain event) it is the
//     upgrade, the server's accept, which is the moment it is recorded at.
//     Until the first connection shows which the client is, a plain
//     client's ready is recorded when the server calls it plain, at its
//     accept; after that, at the accept itself.
//   - disconnected (the client declared the connection dead): the tap sees
//     the client close its socket (cause socket-closed), or a new connect
//     while the old connection is still open (cause redialed); or the
//     network ended both sides at once (a reset passed on, an upstream
//     refusal: cause network), when the client's socket is gone and any read
//     fails. Code and Status are what the server sent on that connection, if
//     anything: a close code, 1006 for a drop, an HTTP status for a refused
//     upgrade. A connection that never became ready while the server stalled
//     its upgrade, and that the client closed first, ends with cause
//     handshake-timeout; one the server let go first did not time out.
//   - backoff: the gap from one connection's end to the next connect;
//     Attempt counts as the policy does (a connection ready for at least
//     MinHealthyUptime resets it).
//
// Events after setStopping carry cause stopped, so that the harness's own
// teardown is not counted as the client's doing. Its methods are safe for
// concurrent use.
type wireObserver struct {
	id string

	mu       sync.Mutex
	minUp    float64 // MinHealthyUptime, ms
	linked   bool    // a packet link sits between the tap and the server
	stopping bool
	plain    speaks
	cur      uint64 // the latest tap connection, 0 before the first
	conns    map[uint64]*wireConn
	attempt  int
	pending  *result.Event // the backoff the next connect completes
}

// speaks is what an outside client has shown of itself: a session client
// says hello, a plain one does not.
type speaks int

const (
	speaksUnknown speaks = iota
	speaksSession
	speaksPlain
)

type wireConn struct {
	readyAt  float64 // NaN until ready
	acceptAt float64 // when the server accepted the upgrade
	srv      uint64  // the server's connection number, 0 until accepted
	declared bool    // its end was reported
	code     result.CloseCode
	status   int
	stalled  bool
	// upstreamGone: the tap saw the upstream side end first, so a close
	// by the client followed the network's or the server's.
	upstreamGone bool
}

func newWireObserver(id string) *wireObserver {
	return &wireObserver{id: id, conns: map[uint64]*wireConn{}}
}

// setMinHealthy sets the uptime after which a connection resets the attempt
// count, once the effective options are known (after the tap is up).
func (o *wireObserver) setMinHealthy(d time.Duration) {
	o.mu.Lock()
	o.minUp = ms(d)
	o.mu.Unlock()
}

func (o *wireObserver) setStopping() {
	o.mu.Lock()
	o.stopping = true
	o.mu.Unlock()
}

// feed takes one tap or server event (with TMS set) and returns the client
// events it implies.
func (o *wireObserver) feed(e result.Event) []result.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Source {
	case result.SourceTap:
		return o.feedTap(e)
	case result.SourceServer:
		return o.feedServer(e)
	}
	return nil
}

// feedTap handles the tap's view of the client's connections. Called with
// o.mu held.
func (o *wireObserver) feedTap(e result.Event) []result.Event {
	var out []result.Event
	switch e.Kind {
	case result.KindTapConnect:
		if o.pending != nil {
			b := *o.pending
			b.DelayMS = e.TMS - b.TMS
			b.Text = fmt.Sprintf("%s from the end of conn %d to the connect of conn %d", fmtMS(b.DelayMS), b.Conn, e.Conn)
			out = append(out, b)
		}
		if cur := o.conns[o.cur]; cur != nil && !cur.declared {
			out = append(out, o.declare(o.cur, e.TMS, result.CauseRedialed, fmt.Sprintf("opened conn %d while conn %d was still open", e.Conn, o.cur)))
		}
		// When the client gave up on a connection it kept open, the wire
		// cannot tell how long it waited before this dial.
		o.pending = nil
		o.cur = e.Conn
		o.conns[e.Conn] = &wireConn{readyAt: math.NaN()}
		out = append(out, o.event(e.TMS, result.KindDialing, e.Conn, "", "tap connect"))
	case result.KindTapUpstreamClose:
		if c := o.conns[e.Conn]; c != nil {
			c.upstreamGone = true
		}
	case result.KindTapShed:
		// The tap refused the connection to stay within its limits: what
		// the client saw is that HTTP status (or a bare FIN, status 0).
		if c := o.conns[e.Conn]; c != nil && e.Status != 0 {
			c.status = e.Status
		}
	case result.KindTapClientClose:
		if c := o.conns[e.Conn]; c != nil && !c.declared {
			out = append(out, o.declare(e.Conn, e.TMS, o.cause(c, result.CauseSocketClosed), "the client closed its socket"))
		}
	case result.KindTapClosed:
		if c := o.conns[e.Conn]; c != nil && !c.declared && !e.Teardown() {
			out = append(out, o.declare(e.Conn, e.TMS, o.cause(c, result.CauseNetwork), "the network ended both sides (reset passed on, or upstream refused)"))
		}
		delete(o.conns, e.Conn)
	}
	return out
}

// feedServer notes what the server did on the client's current
// connection, and returns its ready when that shows it. Called with o.mu
// held.
func (o *wireObserver) feedServer(e result.Event) []result.Event {
	cur := o.conns[o.cur]
	if cur == nil || cur.declared {
		return nil
	}
	switch e.Kind {
	case result.KindAccept:
		cur.srv, cur.acceptAt = e.Conn, e.TMS
		if o.plain == speaksPlain {
			return o.ready(cur, e.TMS, fmt.Sprintf("upgrade accepted on the server's conn %d (a plain client)", e.Conn))
		}
	case result.KindHello:
		if cur.srv == e.Conn && o.plain == speaksUnknown {
			o.plain = speaksSession
		}
	case result.KindWelcome:
		if cur.srv == e.Conn {
			return o.ready(cur, e.TMS, fmt.Sprintf("server welcome on its conn %d", e.Conn))
		}
	case result.KindPlain:
		if cur.srv == e.Conn {
			o.plain = speaksPlain
			return o.ready(cur, cur.acceptAt, fmt.Sprintf("upgrade accepted on the server's conn %d; no hello: a plain client", e.Conn))
		}
	case result.KindStall:
		cur.stalled = true
	case result.KindCloseSent:
		cur.code = e.Code
	case result.KindReject:
		cur.status = e.Status
	case result.KindDrop:
		cur.code = 1006
	}
	return nil
}

// ready reports the current connection ready at t, once. Called with o.mu
// held.
func (o *wireObserver) ready(c *wireConn, t float64, why string) []result.Event {
	if !math.IsNaN(c.readyAt) {
		return nil
	}
	c.readyAt = t
	return []result.Event{o.event(t, result.KindReady, o.cur, "", why)}
}

// declare reports the end of connection n at t and books the backoff that
// the next connect completes. Called with o.mu held.
func (o *wireObserver) declare(n uint64, t float64, cause result.Cause, why string) result.Event {
	c := o.conns[n]
	c.declared = true
	if !math.IsNaN(c.readyAt) && t-c.readyAt >= o.minUp {
		o.attempt = 0
	}
	o.attempt++
	o.pending = &result.Event{TMS: t, Source: result.SourceClient, Client: o.id, Conn: n, Kind: result.KindBackoff,
		Attempt: o.attempt, Via: result.ViaWire, Code: c.code, Status: c.status}
	if o.stopping {
		o.pending = nil
	}
	e := o.event(t, result.KindDisconnected, n, cause, why)
	e.Code, e.Status = c.code, c.status
	return e
}

// cause is a connection's end as the wire shows it: a handshake timeout if
// it never became ready while the server stalled its upgrade and the
// client closed it (not the server letting the stalled upgrade go), or,
// behind a packet link, if the client closed it before the server ever saw
// it (its handshake was held up on the link); otherwise what the tap saw.
func (o *wireObserver) cause(c *wireConn, seen result.Cause) result.Cause {
	if math.IsNaN(c.readyAt) && (c.stalled && !c.upstreamGone || o.linked && c.srv == 0 && seen == result.CauseSocketClosed) {
		return result.CauseHandshakeTimeout
	}
	return seen
}

// event is a client event read off the wire, with cause stopped once the
// harness is stopping the client. Called with o.mu held.
func (o *wireObserver) event(t float64, kind result.Kind, conn uint64, cause result.Cause, text string) result.Event {
	if o.stopping {
		cause = result.CauseStopped
	}
	return result.Event{TMS: t, Source: result.SourceClient, Client: o.id, Conn: conn, Kind: kind,
		Attempt: o.attempt, Cause: cause, Via: result.ViaWire, Text: text}
}

// lineWriter hands each line written to it to onLine, truncated to
// maxLineLen, up to maxLines lines. It is used by one goroutine at a time
// (os/exec copies each stream in its own goroutine).
type lineWriter struct {
	kind    result.Kind
	onLine  func(kind result.Kind, line string)
	buf     []byte
	lines   int
	dropped int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line that never ends
		w.line(w.buf)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func (w *lineWriter) line(b []byte) {
	if w.lines >= maxLines {
		w.dropped++
		return
	}
	w.lines++
	s := strings.TrimRight(string(b), "\r")
	if len(s) > maxLineLen {
		s = s[:maxLineLen] + "…"
	}
	w.onLine(w.kind, s)
}

// flush hands on a last line without a newline and says how many lines were
// not recorded. Call it after the writes are over.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = nil
	}
	if w.dropped > 0 {
		w.onLine(w.kind, fmt.Sprintf("(%d more lines not recorded)", w.dropped))
	}
}
