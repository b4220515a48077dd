package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/reports"
)

// Outside clients: a program in any language, started once per scenario
// with RunOptions.Command, that connects to WSCHAOS_URL. The harness cannot
// see inside it, so its lifecycle is derived from the wire tap and the fake
// server (see wireObserver) and written into the timeline as client events
// whose Detail starts with ObservedByTap; every check then works unchanged,
// and the checks that need the client's cooperation say not applicable.

// ObservedByTap starts the Detail of every client event the harness derived
// from the wire for an outside client.
const ObservedByTap = "observed by the tap"

// KindOutside is the harness event that names an outside client under test
// (Client is its id, Detail its pid and command line). Checks use it to tell
// outside clients from the reference client.
const KindOutside = "outside-client"

// Outside-client event kinds: one line the program wrote.
const (
	KindStdout = "stdout"
	KindStderr = "stderr"
)

// Environment of an outside client.
const (
	EnvURL      = "WSCHAOS_URL"       // ws:// or wss:// URL to dial (the wire tap)
	EnvClientID = "WSCHAOS_CLIENT_ID" // the id to say hello with, "c1"
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
)

var errOutsideMulti = errors.New("harness: outside clients run single-client scenarios only: the wire tap cannot tell one client's connections from another's")

// Outside reports whether client id was an outside program, measured from the
// wire rather than from its own events.
func (tl *Timeline) Outside(id string) bool {
	for _, e := range tl.Events {
		if e.Source == SourceHarness && e.Kind == KindOutside && e.Client == id {
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

// notApplicable is a check that cannot be judged for this run: OK so it
// fails nothing, NotApplicable so it is never shown as passed.
func notApplicable(name, want, why string) reports.Check {
	return reports.Check{Name: name, Want: want, OK: true, NotApplicable: true, Got: "n/a: " + why}
}

// startOutside starts the outside client and returns the function that
// stops it (and every process it started) and waits for it; stop must be
// called, also on error paths, and is safe to call once.
func (r *run) startOutside(ctx context.Context) (stop func(), err error) {
	id := r.ids[0]
	env := append(os.Environ(),
		EnvURL+"="+r.env.ClientURL(),
		EnvClientID+"="+id,
		fmt.Sprintf("%s=%d", EnvSeed, r.opts.Seed),
	)
	var dir string
	if pem := r.env.Server.CertPEM(); pem != nil {
		dir, err = os.MkdirTemp("", "wschaos-ca-")
		if err != nil {
			return nil, fmt.Errorf("harness: outside client CA file: %w", err)
		}
		ca := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(ca, pem, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("harness: outside client CA file: %w", err)
		}
		env = append(env, EnvCAFile+"="+ca)
	}
	onLine := func(kind, line string) {
		r.note(time.Now(), reports.Event{Source: SourceClient, Client: id, Kind: kind, Detail: line}, nil)
	}
	p, err := startProcess(ctx, r.opts.Command, env, onLine)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("harness: start outside client %q: %w", r.opts.Command[0], err)
	}
	r.note(time.Now(), reports.Event{Source: SourceHarness, Kind: KindOutside, Client: id,
		Detail: fmt.Sprintf("pid %d: %s", p.pid, strings.Join(r.opts.Command, " "))}, nil)

	var wg sync.WaitGroup
	wg.Go(func() {
		<-p.done
		detail := "exited: " + errText(p.err)
		if p.err == nil {
			detail = "exited: status 0"
		}
		r.note(time.Now(), reports.Event{Source: SourceHarness, Kind: "client-returned", Client: id, Detail: detail}, func() {
			r.stopped[id] = p.err
		})
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			// Whatever the wire shows from now on is the harness's doing.
			r.wire.setStopping()
			p.stop()
			wg.Wait()
			os.RemoveAll(dir)
		})
	}, nil
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
	_, exited := r.stopped[r.ids[0]]
	return exited
}

// exitedEarly reports an outside client that exited before the harness
// stopped it, and says how.
func (r *run) exitedEarly() (string, bool) {
	if r.wire == nil {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err, exited := r.stopped[r.ids[0]]
	if !exited {
		return "", false
	}
	status := "status 0"
	if err != nil {
		status = err.Error()
	}
	return "the outside client exited on its own (" + status + "); its stderr is on the timeline", true
}

// observe feeds one recorded tap or server event to the outside client's
// wire observer and records what it derives. It does nothing for the
// reference client.
func (r *run) observe(at time.Time, e reports.Event) {
	if r.wire == nil {
		return
	}
	e.TMS = r.rec.since(at)
	for _, d := range r.wire.feed(e) {
		kind := client.EventKind(d.Kind)
		r.note(r.rec.at(d.TMS), d, func() { r.state[d.Client] = kind })
	}
}

// wireObserver derives an outside client's lifecycle from the wire tap's and
// the fake server's events, as DESIGN.md defines it for outside clients. All
// tap connections belong to the one client (outside runs are single-client).
//
//   - dialing: a tap "connect".
//   - ready: the server's welcome, or its first echo or raw round trip, on the
//     server connection accepted after that connect.
//   - disconnected (the client declared the connection dead): the tap sees
//     the client close its socket ("client-close"), or a new connect while
//     the old connection is still open; or the network ended both sides at
//     once (a reset passed on, an upstream refusal), when the client's socket
//     is gone and any read fails. Code is what the server sent on that
//     connection, if anything: a close code, 1006 for a drop, an HTTP status
//     for a refused upgrade. A connection that never became ready while the
//     server stalled its upgrade ends with cause=handshake-timeout.
//   - backoff: the gap from one connection's end to the next connect;
//     Attempt counts as the policy does (a connection ready for at least
//     MinHealthyUptime resets it).
//
// Events after setStopping carry cause=stopped, so that the harness's own
// teardown is not counted as the client's doing. Its methods are safe for
// concurrent use.
type wireObserver struct {
	id string

	mu       sync.Mutex
	minUp    float64 // MinHealthyUptime, ms
	stopping bool
	cur      uint64 // the latest tap connection, 0 before the first
	conns    map[uint64]*wireConn
	attempt  int
	pending  *reports.Event // the backoff the next connect completes
}

type wireConn struct {
	readyAt  float64 // NaN until ready
	srv      uint64  // the server's connection number, 0 until accepted
	declared bool    // its end was reported
	code     int
	stalled  bool
}

func newWireObserver(id string) *wireObserver {
	return &wireObserver{id: id, conns: map[uint64]*wireConn{}}
}

// setMinHealthy sets the uptime after which a connection resets the attempt
// count, once the effective options are known (after the tap is up).
func (o *wireObserver) setMinHealthy(d time.Duration) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.minUp = ms(d)
	o.mu.Unlock()
}

func (o *wireObserver) setStopping() {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.stopping = true
	o.mu.Unlock()
}

// feed takes one tap or server event (with TMS set) and returns the client
// events it implies.
func (o *wireObserver) feed(e reports.Event) []reports.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []reports.Event
	cur := o.conns[o.cur]
	switch {
	case e.Source == SourceTap && e.Kind == chaosnet.TapConnect:
		if o.pending != nil {
			b := *o.pending
			b.DelayMS = e.TMS - b.TMS
			b.Detail = o.detail("", fmt.Sprintf("%s from the end of conn %d to the connect of conn %d", fmtMS(b.DelayMS), b.Conn, e.Conn))
			out = append(out, b)
		}
		if cur != nil && !cur.declared {
			out = append(out, o.declare(o.cur, e.TMS, "", fmt.Sprintf("opened conn %d while conn %d was still open", e.Conn, o.cur)))
		}
		// When the client gave up on a connection it kept open, the wire
		// cannot tell how long it waited before this dial.
		o.pending = nil
		o.cur = e.Conn
		o.conns[e.Conn] = &wireConn{readyAt: math.NaN()}
		out = append(out, o.event(e.TMS, client.EventDialing, e.Conn, o.detail("", "tap connect")))
	case e.Source == SourceTap && e.Kind == chaosnet.TapClientClose:
		if c := o.conns[e.Conn]; c != nil && !c.declared {
			out = append(out, o.declare(e.Conn, e.TMS, o.cause(c), "the client closed its socket"))
		}
	case e.Source == SourceTap && e.Kind == chaosnet.TapClosed:
		if c := o.conns[e.Conn]; c != nil && !c.declared && !strings.Contains(e.Detail, "tap closed") {
			out = append(out, o.declare(e.Conn, e.TMS, o.cause(c), "the network ended both sides (reset passed on, or upstream refused)"))
		}
		delete(o.conns, e.Conn)
	case e.Source != SourceServer || cur == nil || cur.declared:
	case e.Kind == fakeserver.KindAccept:
		cur.srv = e.Conn
	case e.Kind == fakeserver.KindStall:
		cur.stalled = true
	case e.Kind == fakeserver.KindCloseSent, e.Kind == fakeserver.KindReject:
		cur.code = e.Code
	case e.Kind == fakeserver.KindDrop:
		cur.code = 1006
	case e.Kind == fakeserver.KindWelcome, e.Kind == fakeserver.KindEcho, e.Kind == fakeserver.KindRaw:
		if math.IsNaN(cur.readyAt) && cur.srv == e.Conn && (e.Client == o.id || e.Client == "") {
			cur.readyAt = e.TMS
			out = append(out, o.event(e.TMS, client.EventReady, o.cur, o.detail("", fmt.Sprintf("server %s on its conn %d", e.Kind, e.Conn))))
		}
	}
	return out
}

// declare reports the end of connection n at t and books the backoff that
// the next connect completes. Called with o.mu held.
func (o *wireObserver) declare(n uint64, t float64, cause, why string) reports.Event {
	c := o.conns[n]
	c.declared = true
	if !math.IsNaN(c.readyAt) && t-c.readyAt >= o.minUp {
		o.attempt = 0
	}
	o.attempt++
	o.pending = &reports.Event{TMS: t, Source: SourceClient, Client: o.id, Conn: n, Kind: string(client.EventBackoff), Attempt: o.attempt}
	if o.stopping {
		o.pending = nil
	}
	e := o.event(t, client.EventDisconnected, n, o.detail(cause, why))
	e.Code = c.code
	return e
}

func (o *wireObserver) cause(c *wireConn) string {
	if math.IsNaN(c.readyAt) && c.stalled {
		return "handshake-timeout"
	}
	return ""
}

func (o *wireObserver) event(t float64, kind client.EventKind, conn uint64, detail string) reports.Event {
	return reports.Event{TMS: t, Source: SourceClient, Client: o.id, Conn: conn, Kind: string(kind), Attempt: o.attempt, Detail: detail}
}

// detail is "[cause=X ]observed by the tap: why", with cause=stopped once
// the harness is stopping the client. Called with o.mu held.
func (o *wireObserver) detail(cause, why string) string {
	if o.stopping {
		cause = "stopped"
	}
	s := ObservedByTap + ": " + why
	if cause != "" {
		s = "cause=" + cause + " " + s
	}
	return s
}

// lineWriter hands each line written to it to onLine, truncated to
// maxLineLen, up to maxLines lines. It is used by one goroutine at a time
// (os/exec copies each stream in its own goroutine).
type lineWriter struct {
	kind    string
	onLine  func(kind, line string)
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
