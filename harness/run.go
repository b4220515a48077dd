package harness

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/reports"
)

// shutdownTimeout bounds every teardown step, so a broken component cannot
// hang a run.
const shutdownTimeout = 5 * time.Second

// stopTimeout bounds ending a fault. Removing a Toxiproxy toxic flushes the
// data it holds, waiting up to 5 s per chunk its link will not take (a
// client that abandoned the connection), so it can take several seconds; the
// fault's end is recorded when the call returns, whatever it took.
const stopTimeout = 30 * time.Second

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
	// profile is applied: mutant clients are built this way.
	Mutate func(*client.Options)
	// Logger receives progress. Defaults to discarding.
	Logger *slog.Logger
	// Command, if set, is the client under test: a program in any language
	// (argv, run without a shell), started once per scenario with
	// WSCHAOS_URL, WSCHAOS_CLIENT_ID, WSCHAOS_SEED and, for wss://,
	// WSCHAOS_CA_FILE in its environment, and measured from the wire tap and
	// the fake server; see external.go. Only single-client scenarios can run
	// this way. Empty means the in-process reference client.
	Command []string
}

// Run executes one scenario and returns its result. It never panics on a
// broken scenario or client: setup errors become a failed result with Error
// set. Every goroutine and process it starts has stopped when it returns.
func Run(ctx context.Context, sc Scenario, opts RunOptions) reports.Scenario {
	started := time.Now()
	if opts.ClientName == "" {
		opts.ClientName = "reference"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &run{sc: sc, opts: opts, rec: newRecorder(), log: opts.Logger.With("scenario", sc.Name, "client", opts.ClientName)}
	r.changed = make(chan struct{})
	r.state = map[string]client.EventKind{}
	r.stopped = map[string]error{}
	r.gotPush = map[string]bool{}
	r.gotSend = map[string]bool{}
	r.windowOf = map[int]int{}
	r.upSent, r.upDelivered = map[string]uint64{}, map[string]uint64{}
	r.downSent, r.downDelivered = map[string]uint64{}, map[string]uint64{}
	res := reports.Scenario{
		Name: sc.Name, Description: sc.Description, Client: opts.ClientName,
		Faults: []reports.Fault{}, Targets: []reports.Target{}, Checks: []reports.Check{}, Timeline: []reports.Event{},
	}
	err := r.execute(ctx)
	res.Timeline = r.rec.snapshot()
	res.DurationMS = ms(time.Since(started))
	res.Faults = r.faultWindows()
	if r.effective != nil {
		tl := &Timeline{Events: res.Timeline, Faults: res.Faults, Clients: r.ids, Options: *r.effective}
		checks := sc.Checks(*r.effective)
		for _, c := range checks {
			res.Targets = append(res.Targets, c.Target)
		}
		res.Checks = append(res.Checks, r.validity()...)
		res.Checks = append(res.Checks, Evaluate(tl, checks)...)
		res.Measured = tl.Summary()
		b := r.effective.Backoff
		jitter := b.Jitter
		if b.NoJitter {
			jitter = 0
		}
		res.Policy = &reports.BackoffPolicy{InitialMS: ms(b.Initial), MaxMS: ms(b.Max), Multiplier: b.Multiplier, Jitter: jitter}
	}
	res.Verdict = reports.Pass
	if err != nil {
		res.Error = err.Error()
		res.Verdict = reports.Fail
	}
	for _, c := range res.Checks {
		if !c.OK {
			res.Verdict = reports.Fail
		}
	}
	r.log.Info("scenario done", "verdict", res.Verdict, "ms", int(res.DurationMS))
	return res
}

type run struct {
	sc   Scenario
	opts RunOptions
	rec  *recorder
	log  *slog.Logger
	env  *Env

	ids []string
	// wire derives an outside client's lifecycle; nil for the reference
	// client.
	wire *wireObserver
	// effective is the scenario's client profile after defaults: the
	// contract every check holds the client under test to.
	effective *client.Options

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every recorded event
	state   map[string]client.EventKind
	stopped map[string]error
	gotPush map[string]bool // the client has had a server message delivered
	gotSend map[string]bool // the server has had a message from the client
	// Highest sequence numbers per client, for the drain at the end.
	upSent, upDelivered, downSent, downDelivered map[string]uint64
	warmAt                                       time.Time
	windows                                      []reports.Fault
	windowOf                                     map[int]int // schedule index -> index in windows
	invalids                                     []string
}

// note records an event and wakes anyone waiting for a condition.
func (r *run) note(at time.Time, e reports.Event, update func()) {
	r.rec.add(at, e)
	r.mu.Lock()
	if update != nil {
		update()
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// waitFor blocks until cond (called with r.mu held) holds, ctx ends or the
// deadline passes; it reports whether cond held.
func (r *run) waitFor(ctx context.Context, deadline time.Time, cond func() bool) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		r.mu.Lock()
		ok, ch := cond(), r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			return cond()
		case <-ctx.Done():
			return false
		}
	}
}

func (r *run) harnessEvent(kind, detail string) {
	r.note(time.Now(), reports.Event{Source: SourceHarness, Kind: kind, Detail: detail}, nil)
}

func (r *run) execute(ctx context.Context) (err error) {
	if err := r.sc.Validate(); err != nil {
		return err
	}
	n := max(r.sc.Clients, 1)
	if len(r.opts.Command) > 0 {
		if n > 1 {
			return fmt.Errorf("%w (%s has %d clients)", errOutsideMulti, r.sc.Name, n)
		}
		r.wire = newWireObserver("c1")
	}
	srvOpts := r.sc.Server
	srvOpts.TLS = r.sc.TLS
	srvOpts.OnEvent = r.onServer
	env, err := NewEnv(ctx, EnvOptions{ToxiproxyURL: r.opts.ToxiproxyURL, Server: srvOpts, OnTap: r.onTap})
	if err != nil {
		return err
	}
	r.env = env
	defer func() {
		if cerr := env.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("harness: teardown: %w", cerr)
		}
	}()

	// The targets hold every client to the scenario's profile: a mutant's
	// own options do not move the goalposts.
	ref, err := client.New(env.ClientURL(), r.sc.Client)
	if err != nil {
		return fmt.Errorf("harness: scenario client profile: %w", err)
	}
	eff := ref.Options()
	r.effective = &eff
	r.wire.setMinHealthy(eff.MinHealthyUptime)

	// Build the clients before any fault, so a bad profile fails fast.
	clients := make([]*client.Client, 0, n)
	for i := range n {
		id := fmt.Sprintf("c%d", i+1)
		r.ids = append(r.ids, id)
		if r.wire != nil {
			continue // an outside program, started below
		}
		o := r.sc.Client
		if r.opts.Mutate != nil {
			r.opts.Mutate(&o)
		}
		o.ClientID = id
		o.Rand = rand.New(rand.NewPCG(uint64(r.opts.Seed), uint64(i)))
		o.OnEvent = r.onClient(id)
		o.OnMessage = r.onMessage(id)
		if r.sc.TLS {
			o.TLSConfig = &tls.Config{RootCAs: env.Server.CertPool(), MinVersion: tls.VersionTLS12}
		}
		c, err := client.New(env.ClientURL(), o)
		if err != nil {
			return fmt.Errorf("harness: client profile: %w", err)
		}
		clients = append(clients, c)
	}

	for _, f := range r.sc.Faults {
		if f.Arm != nil {
			if err := f.Arm(ctx, env); err != nil {
				return fmt.Errorf("harness: arm %s: %w", f.Kind, err)
			}
		}
	}

	// Faults in force before the first dial.
	var faults sync.WaitGroup
	faultCtx, stopFaults := context.WithCancel(ctx)
	defer func() {
		stopFaults()
		faults.Wait()
	}()
	var faultErrs errorList
	t0 := time.Now()
	for i, f := range r.sc.Faults {
		if f.Initial {
			if err := r.startFault(ctx, i, f); err != nil {
				return err
			}
			faults.Go(func() { faultErrs.add(r.finishFault(faultCtx, i, f, t0.Add(f.For))) })
		}
	}

	// Clients and workload.
	runCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopClients()
		wg.Wait()
	}()
	if r.wire != nil {
		stop, err := r.startOutside(runCtx)
		if err != nil {
			return err
		}
		defer stop()
	}
	for i, c := range clients {
		id := r.ids[i]
		wg.Go(func() {
			err := c.Run(runCtx)
			r.note(time.Now(), reports.Event{Source: SourceHarness, Kind: "client-returned", Client: id, Detail: errText(err)}, func() {
				r.stopped[id] = err
			})
		})
	}
	workCtx, stopWork := context.WithCancel(runCtx)
	defer stopWork()
	if iv := r.sendInterval(); iv > 0 {
		for i, c := range clients {
			wg.Go(func() { r.workload(workCtx, r.ids[i], c, iv) })
		}
	}

	// Warm-up: every client ready, with traffic both ways, unless the first
	// fault is in force before the first dial.
	hasInitial := slices.ContainsFunc(r.sc.Faults, func(f Fault) bool { return f.Initial })
	// Warm-up is not a target, only a bound against hanging: generous, and
	// more so for many clients, which all connect at once.
	warmFor := 2*eff.HandshakeTimeout + 2*eff.Backoff.Max + time.Second + time.Duration(n)*50*time.Millisecond
	if r.wire != nil {
		warmFor += outsideStartup
	}
	warmBy := time.Now().Add(warmFor)
	if !hasInitial {
		if !r.waitFor(ctx, warmBy, r.warmOrExited) {
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
	r.harnessEvent(KindWarm, fmt.Sprintf("%d clients ready", n))
	warmAt := r.warmAt

	for i, f := range r.sc.Faults {
		if f.Initial {
			continue
		}
		faults.Go(func() {
			if !sleepUntil(faultCtx, warmAt.Add(f.At)) {
				return
			}
			if err := r.startFault(faultCtx, i, f); err != nil {
				faultErrs.add(err)
				return
			}
			faultErrs.add(r.finishFault(faultCtx, i, f, time.Now().Add(f.For)))
		})
	}
	faults.Wait()
	if err := faultErrs.err(); err != nil {
		return err
	}

	// Settle: every client ready again (or stopped for good), then the tail.
	tail := r.sc.Tail
	if tail == 0 {
		tail = 2 * (eff.PingInterval + eff.PongTimeout)
	}
	budget := 2*(eff.Backoff.Max+eff.HandshakeTimeout) + eff.HintMax/4
	settled := r.waitFor(ctx, time.Now().Add(budget), r.allSettled)
	if !settled {
		r.harnessEvent(KindNote, "not every client was ready again within "+budget.String())
	}
	sleepUntil(ctx, time.Now().Add(tail))
	// A client that noticed the fault late, and so lost its connection
	// during the tail, gets the budget again to come back.
	if settled && !r.waitFor(ctx, time.Now(), r.allSettled) {
		r.waitFor(ctx, time.Now().Add(budget), r.allSettled)
	}

	// Drain: stop producing, then give what is in flight time to arrive, so
	// that a message sent in the last moment is not counted as lost.
	stopWork()
	env.Server.SetPush(0)
	// Once SetPush(0) has returned the server produces nothing more: what it
	// has produced by now is what each client must have before the end.
	r.mu.Lock()
	for _, id := range r.ids {
		r.downSent[id] = max(r.downSent[id], env.Server.LastSeq(id))
	}
	r.mu.Unlock()
	r.harnessEvent(KindDrain, "workload and push stopped; waiting for messages in flight")
	drain := eff.AckTimeout + eff.Backoff.Max + eff.HandshakeTimeout
	if !r.waitFor(ctx, time.Now().Add(drain), r.drained) {
		r.harnessEvent(KindNote, "messages still in flight after a drain of "+drain.String())
	}
	return ctx.Err()
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

func (r *run) workload(ctx context.Context, id string, c *client.Client, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		body := fmt.Sprintf("%s-m%d", id, n)
		seq, err := c.Send(ctx, body)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.note(time.Now(), reports.Event{Source: SourceHarness, Kind: "send-error", Client: id, Detail: err.Error()}, nil)
			continue
		}
		r.note(time.Now(), reports.Event{Source: SourceClient, Kind: KindSent, Client: id, Seq: seq}, func() {
			r.upSent[id] = max(r.upSent[id], seq)
		})
	}
}

// allWarm: every client is ready, has received a server message (when the
// server pushes) and has had a message delivered to the server (when the
// workload runs). Called with r.mu held.
func (r *run) allWarm() bool {
	for _, id := range r.ids {
		if r.state[id] != client.EventReady {
			return false
		}
	}
	if r.wire != nil {
		return true // an outside client's round trip is its ready
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
		if st := r.state[id]; st != client.EventReady && st != client.EventFatal {
			return false
		}
	}
	return true
}

// drained: every running client has had all its messages delivered to the
// server and every server message delivered to it. Called with r.mu held.
func (r *run) drained() bool {
	if r.wire != nil {
		return true // nothing to count: an outside client has no workload
	}
	for _, id := range r.ids {
		if _, done := r.stopped[id]; done || r.state[id] == client.EventFatal {
			continue
		}
		if r.upDelivered[id] < r.upSent[id] || r.downDelivered[id] < r.downSent[id] {
			return false
		}
	}
	return true
}

func (r *run) startFault(ctx context.Context, i int, f Fault) error {
	issued := time.Now()
	if err := f.Start(ctx, r.env); err != nil {
		return fmt.Errorf("harness: start %s: %w", f.Kind, err)
	}
	now := time.Now()
	r.note(now, reports.Event{Source: SourceHarness, Kind: KindFaultStart, Detail: f.Kind + ": " + f.Detail, Seq: uint64(i + 1)}, func() {
		r.windows = append(r.windows, reports.Fault{Kind: f.Kind, Detail: f.Detail,
			IssuedMS: r.rec.since(issued), StartMS: r.rec.since(now), EndMS: r.rec.since(now)})
		r.windowOf[i] = len(r.windows) - 1
	})
	return nil
}

func (r *run) finishFault(ctx context.Context, i int, f Fault, until time.Time) error {
	if f.Stop == nil {
		return nil
	}
	sleepUntil(ctx, until)
	// Stop even when ctx ended, so no toxic outlives the run.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	stopAt := time.Now()
	if err := f.Stop(sctx, r.env); err != nil {
		return fmt.Errorf("harness: stop %s: %w", f.Kind, err)
	}
	now := time.Now()
	if took := now.Sub(stopAt); took > time.Second {
		r.harnessEvent(KindNote, fmt.Sprintf("ending %s took %v (Toxiproxy flushing what it held)", f.Kind, took.Round(time.Millisecond)))
	}
	r.note(now, reports.Event{Source: SourceHarness, Kind: KindFaultEnd, Detail: f.Kind, Seq: uint64(i + 1)}, func() {
		if w, ok := r.windowOf[i]; ok {
			r.windows[w].EndMS = r.rec.since(now)
		}
	})
	return nil
}

func (r *run) faultWindows() []reports.Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.windows)
	slices.SortStableFunc(out, func(a, b reports.Fault) int { return cmp.Compare(a.StartMS, b.StartMS) })
	if out == nil {
		out = []reports.Fault{}
	}
	return out
}

func (r *run) invalid(why string) {
	r.mu.Lock()
	r.invalids = append(r.invalids, why)
	r.mu.Unlock()
}

// validity holds the guards against empty passes: a run whose fault never
// took effect, or that never warmed up, fails as invalid.
func (r *run) validity() []reports.Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []reports.Check
	for _, why := range r.invalids {
		out = append(out, reports.Check{Name: "valid-run", OK: false, Got: why, Want: "a warmed-up run"})
	}
	if want := len(r.sc.Faults); len(r.windows) != want {
		out = append(out, reports.Check{Name: "faults-applied", OK: false,
			Got: fmt.Sprintf("%d of %d faults took effect", len(r.windows), want), Want: fmt.Sprint(want)})
	}
	return out
}

func (r *run) onClient(id string) func(client.Event) {
	return func(ev client.Event) {
		e := reports.Event{
			Source: SourceClient, Client: id, Conn: ev.Conn, Kind: string(ev.Kind),
			Code: ev.Code, Reason: ev.Reason, Attempt: ev.Attempt, DelayMS: ms(ev.NextDelay), HintMS: ms(ev.Hint),
			Detail: clientDetail(ev),
		}
		if ev.Kind == client.EventGap {
			e.Seq = ev.Gap
		}
		update := func() {
			switch ev.Kind {
			case client.EventReady, client.EventDisconnected, client.EventFatal, client.EventStopped, client.EventBackoff, client.EventDialing:
				r.state[id] = ev.Kind
			}
		}
		r.note(ev.Time, e, update)
	}
}

func clientDetail(ev client.Event) string {
	var parts []string
	if ev.Cause != "" {
		parts = append(parts, "cause="+ev.Cause)
	}
	switch ev.Kind {
	case client.EventDisconnected, client.EventBackoff, client.EventFatal:
		parts = append(parts, "class="+ev.Class.String())
	case client.EventReady:
		parts = append(parts, fmt.Sprintf("resumed=%t", ev.Resumed))
		if ev.Downtime > 0 {
			parts = append(parts, "downtime="+ev.Downtime.Round(time.Millisecond).String())
		}
	}
	if ev.Detail != "" {
		parts = append(parts, ev.Detail)
	}
	return strings.Join(parts, " ")
}

func (r *run) onMessage(id string) func(client.Message) {
	return func(m client.Message) {
		r.note(time.Now(), reports.Event{Source: SourceClient, Client: id, Kind: KindReceived, Seq: m.Seq}, func() {
			r.gotPush[id] = true
			r.downDelivered[id] = max(r.downDelivered[id], m.Seq)
		})
	}
}

func (r *run) onServer(ev fakeserver.Event) {
	e := reports.Event{
		Source: SourceServer, Client: ev.ClientID, Conn: ev.Conn, Kind: ev.Kind,
		Code: ev.Code, Reason: ev.Reason, Seq: ev.Seq, Detail: ev.Detail,
	}
	defer r.observe(ev.Time, e)
	r.note(ev.Time, e, func() {
		switch ev.Kind {
		case "recv":
			r.gotSend[ev.ClientID] = true
			r.upDelivered[ev.ClientID] = max(r.upDelivered[ev.ClientID], ev.Seq)
		case "send":
			r.downSent[ev.ClientID] = max(r.downSent[ev.ClientID], ev.Seq)
		}
	})
}

func (r *run) onTap(ev chaosnet.TapEvent) {
	detail := ev.Client
	if ev.Kind == "closed" || ev.Kind == "client-close" || ev.Kind == "upstream-close" {
		detail = fmt.Sprintf("%s up=%dB down=%dB", ev.Client, ev.BytesUp, ev.BytesDown)
		if ev.Reset {
			detail += " reset"
		}
	}
	if ev.Detail != "" {
		detail += " " + ev.Detail
	}
	e := reports.Event{Source: SourceTap, Conn: ev.Conn, Kind: ev.Kind, Detail: detail}
	r.note(ev.Time, e, nil)
	r.observe(ev.Time, e)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sleepUntil waits for t or ctx; it reports whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorList) add(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorList) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}
