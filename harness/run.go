package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/internal/wait"
	"github.com/wschaos/wschaos/result"
)

// shutdownTimeout bounds every teardown step, so a broken component cannot
// hang a run.
const shutdownTimeout = 5 * time.Second

// RunOptions configure Run.
type RunOptions struct {
	// ToxiproxyURL names an external toxiproxy-server. Empty means embedded.
	ToxiproxyURL string
	// Seed drives the clients' jitter and the workload. Runs with the same
	// seed draw the same random numbers.
	Seed int64
	// ClientName labels the client under test in the result. Defaults to
	// "reference".
	ClientName string
	// Mutate, if set, changes the client options after the scenario's
	// profile is applied: mutant clients are built this way. The targets
	// still hold the client to the scenario's profile.
	Mutate func(*client.Options)
	// Logger receives progress. Defaults to discarding.
	Logger *slog.Logger
	// Command, if set, is the client under test: a program in any language
	// (argv, run without a shell), started once per scenario with
	// WSCHAOS_URL, WSCHAOS_CLIENT_ID, WSCHAOS_SEED and, for wss://,
	// WSCHAOS_CA_FILE in its environment, and measured from the wire tap and
	// the fake server; see external.go. Empty means the in-process
	// reference client.
	Command []string
	// Supervisor, if set, is a command prefix that supervises each outside
	// client: the harness starts Supervisor followed by Command, and stops
	// the supervisor, which ends the client's whole tree, setsid children
	// included, and names what it had to end (see internal/supervise; the
	// wschaos command passes itself, `wschaos supervise --`). Empty starts
	// Command directly, in a process group of its own.
	Supervisor []string
	// Upstream names a real WebSocket server to stand the chain in front
	// of instead of the fake server. The reference client then runs in
	// plain mode, and a scenario that needs the fake server is not run
	// (its result says why). Defaults to none: the fake server.
	Upstream UpstreamServer
}

// Run executes one scenario and returns its result. It never panics on a
// broken scenario or client: setup errors become a failed result with Error
// set, and a run whose ctx ends early is marked interrupted. Every
// goroutine and process it starts has stopped when it returns.
func Run(ctx context.Context, sc Scenario, opts RunOptions) result.Scenario {
	r := newRun(sc, opts)
	if opts.Upstream.Enabled() {
		if why := skipFor(sc, opts.Upstream); why != "" {
			return NotRun(sc, r.opts.ClientName, why)
		}
	}
	err := r.execute(ctx)
	return r.judge(ctx, err)
}

type run struct {
	sc      Scenario
	opts    RunOptions
	rec     *recorder
	log     *slog.Logger
	env     *Env
	started time.Time

	ids []string
	// wire derives each outside client's lifecycle from the wire, by
	// client id; nil for the reference client. taps are the outside
	// clients' own taps.
	wire map[string]*wireObserver
	taps []*clientTap
	// tapConns numbers the connections of every client tap in one
	// sequence, so that a tap connection number names one connection.
	tapConns atomic.Uint64
	// effective is the scenario's client profile after defaults: the
	// contract every check holds the client under test to.
	effective *client.Options
	clients   []*client.Client

	mu sync.Mutex
	// changed is told of every recorded event, under mu: the waits for
	// warm-up, settling and the drain are woken by it.
	changed *wait.Cond
	state   map[string]result.Kind
	stopped map[string]error
	gotPush map[string]bool // the client has had a server message delivered
	gotSend map[string]bool // the server has had a message from the client
	heard   map[string]bool // a message or pong arrived since the client's last ready
	// draining: the workload has stopped producing.
	draining bool
	// Highest sequence numbers per client, for the drain at the end.
	upSent, upDelivered, downSent, downDelivered map[string]uint64
	warmAt                                       time.Time
	windows                                      []result.Fault
	windowOf                                     map[int]int // schedule index -> index in windows
	invalids                                     []string
	// link is the packet link's final counters; nil without a link.
	link *result.LinkPackets
}

func newRun(sc Scenario, opts RunOptions) *run {
	if opts.ClientName == "" {
		opts.ClientName = "reference"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &run{
		sc: sc, opts: opts, rec: newRecorder(), started: time.Now(),
		log:   opts.Logger.With("scenario", sc.Name, "client", opts.ClientName),
		state: map[string]result.Kind{}, stopped: map[string]error{},
		gotPush: map[string]bool{}, gotSend: map[string]bool{}, heard: map[string]bool{}, windowOf: map[int]int{},
		upSent: map[string]uint64{}, upDelivered: map[string]uint64{},
		downSent: map[string]uint64{}, downDelivered: map[string]uint64{},
	}
	r.changed = wait.NewCond(&r.mu)
	return r
}

// execute runs the phases in order: build the environment and the clients,
// arm and start the initial faults, start the clients and their workload,
// warm up, apply the schedule, settle and drain.
func (r *run) execute(ctx context.Context) (err error) {
	if err := r.sc.Validate(); err != nil {
		return err
	}
	env, err := r.buildEnv(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := errors.Join(r.closeTaps(), env.Close()); cerr != nil && err == nil {
			err = fmt.Errorf("harness: teardown: %w", cerr)
		}
	}()
	if env.Link != nil {
		stopLink := r.sampleLink()
		defer func() { r.setLink(stopLink()) }()
	}
	if err := r.buildClients(); err != nil {
		return err
	}
	sched := newSchedule(ctx, r)
	defer sched.stop()
	if err := sched.armAndStartInitial(ctx); err != nil {
		return err
	}
	stopClients, err := r.startClients(ctx)
	if err != nil {
		return err
	}
	defer stopClients()
	if err := r.warmUp(ctx); err != nil {
		return err
	}
	if err := sched.applyRest(); err != nil {
		return err
	}
	r.settle(ctx)
	r.drain(ctx)
	return ctx.Err()
}

// buildEnv starts the fake server, the proxy and the tap, and works out the
// profile the clients are held to.
func (r *run) buildEnv(ctx context.Context) (*Env, error) {
	n := max(r.sc.Clients, 1)
	if r.sc.NoHeartbeat && len(r.opts.Command) == 0 {
		return nil, errNoHeartbeatReference
	}
	if len(r.opts.Command) > 0 && r.opts.Upstream.Enabled() {
		return nil, errOutsideUpstream
	}
	for i := range n {
		r.ids = append(r.ids, fmt.Sprintf("c%d", i+1))
	}
	srvOpts := r.sc.Server
	srvOpts.TLS = r.sc.TLS
	srvOpts.OnEvent = r.onServer
	if len(r.opts.Command) > 0 {
		r.wire = map[string]*wireObserver{}
		for _, id := range r.ids {
			r.wire[id] = newWireObserver(id)
		}
		srvOpts.PlainAfter = plainAfter
	}
	env, err := NewEnv(ctx, EnvOptions{ToxiproxyURL: r.opts.ToxiproxyURL, Server: srvOpts, OnTap: r.onTap, Upstream: r.opts.Upstream, Link: r.linkOptions(),
		OnRestore: func(proxy string, err error) {
			r.harnessNote(fmt.Sprintf("the watchdog restored proxy %s, whose accept loop had died (error: %v)", proxy, err))
		}})
	if err != nil {
		return nil, err
	}
	r.env = env
	r.noteLink()
	if err := r.openTaps(); err != nil {
		return env, err
	}
	if u := r.opts.Upstream; u.Enabled() {
		r.harnessNote("the chain stands in front of the real server " + u.URL() + " instead of the fake server; the reference client runs in plain mode")
	}
	// The targets hold every client to the scenario's profile: a mutant's
	// own options do not move the goalposts.
	ref, err := client.New(env.ClientURL(), r.profile())
	if err != nil {
		return env, fmt.Errorf("harness: scenario client profile: %w", err)
	}
	eff := ref.Options()
	if r.sc.NoHeartbeat {
		// Nor what the reference client derives from its heartbeat.
		eff.PingInterval, eff.PongTimeout, eff.AckTimeout = 0, 0, r.sc.Client.AckTimeout
		eff.MinHealthyUptime = r.sc.Client.MinHealthyUptime
	}
	r.effective = &eff
	for _, o := range r.wire {
		o.setMinHealthy(eff.MinHealthyUptime)
	}
	return env, nil
}

// profile is the scenario's client profile as the reference client runs
// it: in plain mode against a real server, which does not speak the
// session protocol.
func (r *run) profile() client.Options {
	o := r.sc.Client
	if r.opts.Upstream.Enabled() {
		o.Session = false
	}
	return o
}

// plain reports whether the clients are reference clients in plain mode.
func (r *run) plain() bool {
	return r.wire == nil && r.effective != nil && !r.effective.Session
}

// buildClients makes the reference clients before any fault, so a bad
// profile fails fast. Outside clients are started with the others.
func (r *run) buildClients() error {
	if r.wire != nil {
		return nil
	}
	for i, id := range r.ids {
		o := r.profile()
		if r.opts.Mutate != nil {
			r.opts.Mutate(&o)
		}
		o.ClientID = id
		o.Rand = rand.New(rand.NewPCG(uint64(r.opts.Seed), uint64(i)))
		o.OnEvent = r.onClient(id)
		o.OnMessage = r.onMessage(id)
		switch u := r.opts.Upstream; {
		case u.Enabled():
			o.TLSConfig, o.Host = u.TLSConfig(), u.hostHeader()
		case r.sc.TLS:
			o.TLSConfig = &tls.Config{RootCAs: r.env.Server.CertPool(), MinVersion: tls.VersionTLS12}
		}
		if r.env.Link != nil {
			o.Dial = r.env.Link.Dial // its TCP runs in the link's client stack
		}
		c, err := client.New(r.env.ClientURL(), o)
		if err != nil {
			return fmt.Errorf("harness: client profile: %w", err)
		}
		r.clients = append(r.clients, c)
	}
	return nil
}

// startClients runs every client and its workload; the returned function
// stops them and waits.
func (r *run) startClients(ctx context.Context) (stop func(), err error) {
	runCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stopAll := func() {
		stopClients()
		wg.Wait()
	}
	if r.wire != nil {
		stopOutside, err := r.startOutside(runCtx)
		if err != nil {
			stopAll()
			return nil, err
		}
		return func() { stopOutside(); stopAll() }, nil
	}
	for i, c := range r.clients {
		id := r.ids[i]
		wg.Go(func() {
			err := c.Run(runCtx)
			r.note(time.Now(), result.Event{Source: result.SourceClient, Kind: result.KindReturned, Client: id, Text: errText(err)}, func() {
				r.stopped[id] = err
			})
		})
	}
	if iv := r.sendInterval(); iv > 0 {
		for i, c := range r.clients {
			wg.Go(func() { r.workload(runCtx, r.ids[i], c, iv) })
		}
	}
	return stopAll, nil
}

// warmUp waits until every client is ready with traffic both ways, unless
// the first fault is in force before the first dial, and starts the
// schedule's clock.
func (r *run) warmUp(ctx context.Context) error {
	eff := r.effective
	hasInitial := slices.ContainsFunc(r.sc.Faults, func(f Fault) bool { return f.Initial })
	// Warm-up is not a target, only a bound against hanging: generous, and
	// more so for many clients, which all connect at once.
	warmFor := 2*eff.HandshakeTimeout + 2*eff.Backoff.Max + time.Second + time.Duration(len(r.ids))*50*time.Millisecond
	if r.wire != nil {
		warmFor += outsideStartup
	}
	if !hasInitial {
		if !r.waitFor(ctx, time.Now().Add(warmFor), r.warmOrExited) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.invalid("clients never warmed up (ready with traffic both ways) within " + warmFor.String())
			return errors.New("harness: invalid run: clients never warmed up before the fault")
		}
		if why, exited := r.exitedEarly(); exited {
			r.invalid(why)
			return errors.New("harness: invalid run: " + why)
		}
	}
	r.mu.Lock()
	r.warmAt = time.Now()
	r.mu.Unlock()
	r.note(time.Now(), result.Event{Source: result.SourceHarness, Kind: result.KindWarm, Count: uint64(len(r.ids))}, nil)
	return nil
}

// settle waits for every client to be ready again (or stopped for good),
// then the tail; a client that noticed the fault late, and so lost its
// connection during the tail, gets the budget again to come back.
func (r *run) settle(ctx context.Context) {
	eff := r.effective
	tail := r.sc.Tail
	if tail == 0 {
		tail = 2 * (eff.PingInterval + eff.PongTimeout)
	}
	if tail == 0 { // no heartbeat to see out
		tail = 2 * eff.Backoff.Initial
	}
	budget := 2*(eff.Backoff.Max+eff.HandshakeTimeout) + eff.HintMax/4
	settled := r.waitFor(ctx, time.Now().Add(budget), r.allSettled)
	if !settled {
		r.harnessNote("not every client was ready again within " + budget.String())
	}
	wait.Sleep(ctx, tail)
	if settled && !r.waitFor(ctx, time.Now(), r.allSettled) {
		r.waitFor(ctx, time.Now().Add(budget), r.allSettled)
	}
}

// drain stops producing, then gives what is in flight time to arrive, so
// that a message sent in the last moment is not counted as lost.
func (r *run) drain(ctx context.Context) {
	eff := r.effective
	r.mu.Lock()
	r.draining = true
	r.mu.Unlock()
	if srv := r.env.Server; srv != nil {
		srv.SetPush(0)
		// Once SetPush(0) has returned the server produces nothing more:
		// what it has produced by now is what each client must have before
		// the end.
		r.mu.Lock()
		for _, id := range r.ids {
			r.downSent[id] = max(r.downSent[id], srv.LastSeq(id))
		}
		r.mu.Unlock()
	}
	r.note(time.Now(), result.Event{Source: result.SourceHarness, Kind: result.KindDrain, Text: "workload and push stopped; waiting for messages in flight"}, nil)
	drain := DrainTime(*eff)
	if !r.waitFor(ctx, time.Now().Add(drain), r.drained) {
		r.harnessNote("messages still in flight after a drain of " + drain.String())
	}
}

func (r *run) sendInterval() time.Duration {
	switch {
	case r.sc.SendInterval < 0:
		return 0
	case r.sc.SendInterval == 0:
		return 50 * time.Millisecond
	}
	return r.sc.SendInterval
}

// workload sends a sequenced message every interval until the drain.
func (r *run) workload(ctx context.Context, id string, c *client.Client, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		done := r.draining
		r.mu.Unlock()
		if done {
			return
		}
		seq, err := c.Send(ctx, padded(fmt.Sprintf("%s-m%d", id, n), r.sc.MessageSize))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e := result.Event{Source: result.SourceClient, Kind: result.KindSendError, Client: id, Text: err.Error()}
			if errors.Is(err, client.ErrOutboxFull) {
				e.Cause = result.CauseOutboxFull
			}
			r.note(time.Now(), e, nil)
			continue
		}
		r.note(time.Now(), result.Event{Source: result.SourceClient, Kind: result.KindSent, Client: id, Seq: seq}, func() {
			r.upSent[id] = max(r.upSent[id], seq)
		})
	}
}

// note records an event and wakes anyone waiting for a condition.
func (r *run) note(at time.Time, e result.Event, update func()) {
	r.rec.add(at, e)
	r.mu.Lock()
	if update != nil {
		update()
	}
	r.changed.Changed()
	r.mu.Unlock()
}

func (r *run) harnessNote(text string) {
	r.note(time.Now(), result.Event{Source: result.SourceHarness, Kind: result.KindNote, Text: text}, nil)
}

// waitFor blocks until cond (called with r.mu held) holds, ctx ends or the
// deadline passes; it reports whether cond held. Every recorded event wakes
// it, so it needs no polling.
func (r *run) waitFor(ctx context.Context, deadline time.Time, cond func() bool) bool {
	return r.changed.Wait(ctx, deadline, 0, cond)
}

// allWarm: every client is ready, has received a server message (when the
// server pushes) and has had a message delivered to the server (when the
// workload runs). A plain client, against a server the harness knows
// nothing of, is warm once ready with a frame from the server since: a
// message (an echo server's answer to the workload) or a pong (any server
// that answers pings), so the server is known to answer; one that answers
// neither never warms the run up. Called with r.mu held.
func (r *run) allWarm() bool {
	for _, id := range r.ids {
		if r.state[id] != result.KindReady {
			return false
		}
	}
	if r.wire != nil {
		return true // an outside client's round trip is its ready
	}
	if r.plain() {
		for _, id := range r.ids {
			if !r.heard[id] {
				return false
			}
		}
		return true
	}
	push := r.sc.Server.PushInterval > 0
	work := r.sendInterval() > 0
	for _, id := range r.ids {
		if (push && !r.gotPush[id]) || (work && !r.gotSend[id]) {
			return false
		}
	}
	return true
}

// allSettled: every client is ready or has stopped for good. Called with
// r.mu held.
func (r *run) allSettled() bool {
	for _, id := range r.ids {
		if _, done := r.stopped[id]; done {
			continue
		}
		if st := r.state[id]; st != result.KindReady && st != result.KindFatal {
			return false
		}
	}
	return true
}

// drained: every running client has had all its messages delivered to the
// server and every server message delivered to it. Called with r.mu held.
func (r *run) drained() bool {
	if r.wire != nil || r.plain() {
		return true // nothing to count: no workload, or no sequence numbers
	}
	for _, id := range r.ids {
		if _, done := r.stopped[id]; done || r.state[id] == result.KindFatal {
			continue
		}
		if r.upDelivered[id] < r.upSent[id] || r.downDelivered[id] < r.downSent[id] {
			return false
		}
	}
	return true
}

func (r *run) invalid(why string) {
	r.mu.Lock()
	r.invalids = append(r.invalids, why)
	r.mu.Unlock()
}

// padded pads body with dots to size bytes; a longer body is left alone.
func padded(body string, size int) string {
	if len(body) >= size {
		return body
	}
	return body + strings.Repeat(".", size-len(body))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
