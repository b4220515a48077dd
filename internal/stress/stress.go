package stress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/reports"
)

// ScenarioName is the name of the stress run in the result.
const ScenarioName = "Stress"

// ClientsPerWorker is how many clients a worker process runs by default:
// about 2,500 descriptors in the worker (3,000-odd during a reconnect herd),
// well inside a 20,000-descriptor limit, and few enough workers that a
// 2-core machine is not swamped with processes.
const ClientsPerWorker = 2500

// healthyMarginMS is added to MinHealthyUptime before the next fault: the
// client compares timestamps, so only rounding needs a margin.
const healthyMarginMS = 100

// ClientsPerShard is how many clients share one fake server and one proxy
// by default. Toxiproxy accepts on one goroutine per proxy and dials the
// upstream before it accepts the next connection; in a process running
// tens of thousands of goroutines each of those dials waits its turn on the
// run queue, which held one proxy to about 500 new connections a second on
// a 2-core machine. Twenty proxies for 5,000 clients accept in parallel.
const ClientsPerShard = 250

// Options configure Run. The zero value of each field means its default.
type Options struct {
	// Clients is how many reference clients run. Required.
	Clients int
	// Duration is how long the fault schedule runs, from the moment every
	// client is warm. Warm-up and the final drain come on top. Defaults to
	// 60s.
	Duration time.Duration
	// Seed drives the fault schedule, the clients' jitter and the workload
	// phases. Runs with the same seed draw the same numbers.
	Seed int64
	// Timescale multiplies every duration of the client profile and of the
	// fault schedule (not Duration). Defaults to 1.
	Timescale float64
	// Workers is how many worker processes run the clients. Defaults to
	// ceil(Clients / ClientsPerWorker).
	Workers int
	// InProcess runs the workers as goroutines in this process, speaking
	// the same protocol over pipes: for tests and small runs.
	InProcess bool
	// WorkerCommand starts a worker process: the program and its arguments.
	// Defaults to this executable with the argument "worker".
	WorkerCommand []string
	// Shards is how many fake servers, each behind its own proxy, serve the
	// clients; client i uses shard (i-1) mod Shards, and every fault hits
	// every shard at once. Defaults to ceil(Clients / ClientsPerShard).
	Shards int
	// WorkerEnv is added to the workers' environment.
	WorkerEnv []string
	// ToxiproxyURL names an external toxiproxy-server. Empty embeds one.
	ToxiproxyURL string
	// Progress receives a progress line every ProgressEvery. Nil means none.
	Progress io.Writer
	// ProgressEvery defaults to 3s.
	ProgressEvery time.Duration
}

func (o *Options) defaults() error {
	if o.Clients < 1 {
		return fmt.Errorf("stress: clients %d: want 1 or more", o.Clients)
	}
	if o.Duration == 0 {
		o.Duration = 60 * time.Second
	}
	if o.Duration < 0 {
		return fmt.Errorf("stress: duration %v: want a positive duration", o.Duration)
	}
	if o.Timescale == 0 {
		o.Timescale = 1
	}
	if o.Timescale < 0 || math.IsNaN(o.Timescale) || math.IsInf(o.Timescale, 0) {
		return fmt.Errorf("stress: timescale %g: want a positive number", o.Timescale)
	}
	if o.Shards < 0 {
		return fmt.Errorf("stress: shards %d: want 0 (one per %d clients) or more", o.Shards, ClientsPerShard)
	}
	if o.Shards == 0 {
		o.Shards = (o.Clients + ClientsPerShard - 1) / ClientsPerShard
	}
	if o.Workers < 0 {
		return fmt.Errorf("stress: workers %d: want 0 (one per %d clients) or more", o.Workers, ClientsPerWorker)
	}
	if o.Workers == 0 {
		o.Workers = (o.Clients + ClientsPerWorker - 1) / ClientsPerWorker
	}
	o.Workers = min(o.Workers, o.Clients)
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 3 * time.Second
	}
	if !o.InProcess && len(o.WorkerCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("stress: cannot find this executable to start workers: %w", err)
		}
		o.WorkerCommand = []string{exe, "worker"}
	}
	return nil
}

// The aggregates are part of the result schema, so the report can draw them.
type (
	Stats        = reports.StressStats
	FaultStats   = reports.StressFault
	Flow         = reports.Flow
	Distribution = reports.Distribution
	CDFPoint     = reports.CDFPoint
	Resources    = reports.ProcessResources
)

// Report is what Run returns: the stress run as one result scenario, whose
// Stress (never nil) holds the full aggregates.
type Report struct {
	Scenario         reports.Scenario
	ToxiproxyMode    string
	ToxiproxyVersion string
}

// Run starts the fake server and Toxiproxy in this process and the clients
// in workers, applies a seeded fault schedule for Duration and aggregates
// the outcome. It returns an error only for bad options; a run that could
// not be set up comes back failed with Scenario.Error set. Every worker and
// goroutine it starts has stopped when it returns.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	sched, err := NewSchedule(opts.Seed, opts.Duration, opts.Timescale)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	c := newCoord(opts, sched)
	rep := &Report{}
	runErr := c.execute(ctx, rep)
	rep.Scenario = c.results()
	rep.Scenario.DurationMS = msOf(time.Since(started))
	if runErr != nil {
		rep.Scenario.Error = runErr.Error()
		rep.Scenario.Verdict = reports.Fail
	}
	return rep, nil
}

// clientState is what the coordinator knows of one client. Lifecycle
// events are kept; message events are only tallied. The fields the fake
// server's events feed are in srv, under coord.srvMu: the server calls its
// event hook with its own lock held, so that hook must never wait on the
// busy coord.mu.
type clientState struct {
	events  []reports.Event
	ready   bool
	readies int
	gotPush bool
	fatal   bool
	upSent  seqs // the workload's sends
	downGot seqs // the client's deliveries
	gap     int
	srv     struct {
		gotSend  bool
		upGot    seqs // the server's deliveries
		downSent seqs // the server's writes
	}
}

// seqs counts one side of a direction: n[s] is how many times sequence s
// was seen.
type seqs struct {
	n         []uint8
	max       uint64
	top       uint64
	reordered int // seen below the highest seen so far
	dropped   int // beyond maxSeq, not counted
}

// maxSeq bounds the sequence numbers counted per client: a message every
// 100 ms for more than a day.
const maxSeq = 1 << 20

func (q *seqs) mark(seq uint64) {
	if seq == 0 || seq > maxSeq {
		q.dropped++
		return
	}
	for uint64(len(q.n)) <= seq {
		q.n = append(q.n, 0)
	}
	if q.n[seq] < math.MaxUint8 {
		q.n[seq]++
	}
	if seq < q.top {
		q.reordered++
	}
	q.max = max(q.max, seq)
	q.top = max(q.top, seq)
}

func (q *seqs) at(s int) uint8 {
	if s < len(q.n) {
		return q.n[s]
	}
	return 0
}

// flowOf counts lost and duplicated messages as harness.Flows does: a
// sequence sent (or, with holes, inside the delivered range) and never
// delivered is lost unless a gap event accounted for it.
func flowOf(sent, got *seqs, gap int, holes bool) Flow {
	f := Flow{Reordered: got.reordered, Gap: gap}
	lo := 0
	for s := 1; s < len(got.n); s++ {
		if got.n[s] > 0 {
			lo = s
			break
		}
	}
	lost := 0
	for s := 1; s < max(len(sent.n), len(got.n)); s++ {
		sn, gn := sent.at(s), got.at(s)
		if sn > 0 {
			f.Sent++
		}
		if gn > 0 {
			f.Delivered++
			f.Duplicated += int(gn) - 1
			continue
		}
		if sn > 0 || (holes && lo > 0 && s > lo && uint64(s) < got.max) {
			lost++
		}
	}
	f.Lost = max(lost-gap, 0)
	return f
}

type coord struct {
	opts     Options
	sched    Schedule
	eff      client.Options
	origin   time.Time
	originNS int64

	envs []*h.Env // one fake server and proxy per shard
	toxi *chaosnet.Toxiproxy

	srvMu sync.Mutex // clientState.srv; taken after mu when both are

	mu      sync.Mutex
	clients []*clientState // index 1..N
	harness []reports.Event
	windows []reports.Fault
	drainAt float64
	// srvDrainAt is drainAt for the server's hook, under srvMu.
	srvDrainAt float64
	workers    []*workerProc
	res        map[int]Resources
	readyNow   int
	// lastReadyMS is the latest ready event of any client.
	lastReadyMS float64
	reconn      int
	faultsOn    string
	faultsRun   int
	errs        []string
	warmOK      bool
	coordRes    Resources
}

func newCoord(opts Options, sched Schedule) *coord {
	c := &coord{opts: opts, sched: sched, eff: effective(opts.Timescale), origin: time.Now(),
		drainAt: math.Inf(1), srvDrainAt: math.Inf(1), res: map[int]Resources{}}
	c.originNS = c.origin.UnixNano()
	c.clients = make([]*clientState, opts.Clients+1)
	for i := 1; i <= opts.Clients; i++ {
		c.clients[i] = &clientState{}
	}
	return c
}

func (c *coord) tms(ns int64) float64 { return float64(ns-c.originNS) / 1e6 }
func (c *coord) now() float64         { return msOf(time.Since(c.origin)) }

func (c *coord) fail(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

func (c *coord) harnessEvent(kind, detail string, seq uint64) {
	c.mu.Lock()
	c.harness = append(c.harness, reports.Event{TMS: c.now(), Source: h.SourceHarness, Kind: kind, Detail: detail, Seq: seq})
	c.mu.Unlock()
}

func (c *coord) execute(ctx context.Context, rep *Report) (err error) {
	smp := startSampler("coordinator", 0, 500*time.Millisecond)
	defer func() {
		c.coordRes = smp.Snapshot()
		smp.Close()
	}()

	c.toxi, err = chaosnet.StartToxiproxy(ctx, c.opts.ToxiproxyURL)
	if err != nil {
		return fmt.Errorf("stress: toxiproxy: %w", err)
	}
	defer func() {
		// Env.Close deletes the proxy and closes the server; then Toxiproxy.
		var errs []error
		for _, env := range c.envs {
			errs = append(errs, env.Close())
		}
		errs = append(errs, c.toxi.Close())
		if cerr := errors.Join(errs...); cerr != nil && err == nil {
			err = fmt.Errorf("stress: teardown: %w", cerr)
		}
	}()
	rep.ToxiproxyMode = c.toxi.Mode()
	if v, verr := c.toxi.Version(ctx); verr == nil {
		rep.ToxiproxyVersion = v
	}
	// Shards: a fake server and a proxy each (see ClientsPerShard). Every
	// fault is applied to every shard at once.
	var urls []string
	for i := range c.opts.Shards {
		srv, err := fakeserver.New(fakeserver.Options{PushInterval: time.Duration(float64(basePush) * c.opts.Timescale), OnEvent: c.onServer})
		if err != nil {
			return fmt.Errorf("stress: fake server: %w", err)
		}
		env := &h.Env{Server: srv}
		c.envs = append(c.envs, env)
		env.Proxy, err = c.toxi.NewProxy(ctx, fmt.Sprintf("wschaos-stress-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), i+1), srv.Addr())
		if err != nil {
			return fmt.Errorf("stress: proxy: %w", err)
		}
		urls = append(urls, "ws://"+env.Proxy.Addr()+"/ws")
	}

	var faults []h.Fault
	for _, p := range c.sched.Faults {
		f, err := p.Fault()
		if err != nil {
			return err
		}
		faults = append(faults, f)
	}

	// Workers. Whatever happens from here, they are stopped on return.
	defer c.stopWorkers()
	per := (c.opts.Clients + c.opts.Workers - 1) / c.opts.Workers
	// First dials at 500 a second over all workers (each spreads its own
	// clients over the whole ramp): faster, and the listen backlogs of the
	// proxy and the server (somaxconn, 4096 here) overflow while the
	// machine is busy setting connections up, and dropped SYNs come back
	// only after a 1s retransmit.
	ramp := float64(c.opts.Clients) * 2 // ms
	for w := 0; w*per < c.opts.Clients; w++ {
		first := w*per + 1
		count := min(per, c.opts.Clients-w*per)
		cfg := WorkerConfig{Worker: w + 1, URLs: urls, First: first, Count: count, Seed: c.opts.Seed,
			Timescale: c.opts.Timescale, RampMS: ramp}
		wp, err := c.startWorker(cfg)
		if wp != nil {
			c.mu.Lock()
			c.workers = append(c.workers, wp)
			c.mu.Unlock()
		}
		if err != nil {
			return err
		}
	}

	var bg sync.WaitGroup
	progCtx, stopProgress := context.WithCancel(ctx)
	defer func() {
		stopProgress()
		bg.Wait()
	}()
	if c.opts.Progress != nil {
		bg.Go(func() { c.progress(progCtx) })
	}

	// Warm-up: every client ready with traffic both ways.
	o := c.eff
	warmBy := time.Now().Add(time.Duration(ramp)*time.Millisecond + 2*(o.HandshakeTimeout+o.Backoff.Max) + 10*time.Second)
	if !c.waitUntil(ctx, warmBy, c.allWarm) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("stress: invalid run: %s", c.warmShortfall())
	}
	c.mu.Lock()
	c.warmOK = true
	c.mu.Unlock()
	warmAt := time.Now()
	c.harnessEvent(h.KindWarm, fmt.Sprintf("%d clients ready", c.opts.Clients), 0)

	// Each fault starts at its planned time, or later if the clients are not
	// all back from the previous one: every fault is measured from a
	// healthy state (every client ready for MinHealthyUptime), so a slow
	// recovery shows as a missed target of the fault that caused it rather
	// than as a cascade through the rest of the schedule. The schedule
	// slides; the run grows longer than Duration by as much.
	var slide time.Duration
	for i, f := range faults {
		if !sleepUntil(ctx, warmAt.Add(f.At+slide)) {
			return ctx.Err()
		}
		if i > 0 {
			planned := time.Now()
			settleBy := planned.Add(2*(o.Backoff.Max+o.HandshakeTimeout) + 30*time.Second)
			if !c.waitUntil(ctx, settleBy, c.allReady) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				c.harnessEvent(h.KindNote, fmt.Sprintf("not every client was ready again %v after fault %d's planned start; starting it anyway", settleBy.Sub(planned).Round(time.Second), i+1), 0)
			}
			// A client resets its backoff only after MinHealthyUptime on
			// one connection, so a fault that hits it sooner finds it on a
			// later attempt, with a longer delay: the right behaviour, but
			// then the fault would not start from a healthy state. Every
			// client gets MinHealthyUptime (and a little for rounding)
			// since its latest ready.
			c.mu.Lock()
			healthyAt := c.lastReadyMS + msOf(o.MinHealthyUptime) + healthyMarginMS
			c.mu.Unlock()
			if wait := healthyAt - c.now(); wait > 0 && !sleepFor(ctx, time.Duration(wait*float64(time.Millisecond))) {
				return ctx.Err()
			}
			if waited := time.Since(planned); waited > 50*time.Millisecond {
				slide += waited
				c.harnessEvent(h.KindNote, fmt.Sprintf("fault %d waited %v for every client to be ready for MinHealthyUptime %v", i+1, waited.Round(time.Millisecond), o.MinHealthyUptime), 0)
			}
		}
		if err := c.runFault(ctx, i, f); err != nil {
			return err
		}
	}
	if !sleepUntil(ctx, warmAt.Add(c.opts.Duration+slide)) {
		return ctx.Err()
	}

	// Drain: stop producing, then let what is in flight arrive.
	c.mu.Lock()
	c.srvMu.Lock()
	c.drainAt = c.now()
	c.srvDrainAt = c.drainAt
	c.srvMu.Unlock()
	c.mu.Unlock()
	c.broadcast(command{Cmd: "drain"})
	for _, env := range c.envs {
		env.Server.SetPush(0)
	}
	c.harnessEvent(h.KindDrain, "workload and push stopped; waiting for messages in flight", 0)
	drain := o.AckTimeout + o.Backoff.Max + o.HandshakeTimeout
	if !c.waitUntil(ctx, time.Now().Add(drain), c.drained) {
		c.harnessEvent(h.KindNote, "messages still in flight after a drain of "+drain.String(), 0)
	}
	return ctx.Err()
}

func (c *coord) runFault(ctx context.Context, i int, f h.Fault) error {
	issued := c.now()
	if err := c.onEvery(ctx, f.Start); err != nil {
		return fmt.Errorf("stress: start %s: %w", f.Kind, err)
	}
	start := c.now()
	c.mu.Lock()
	c.windows = append(c.windows, reports.Fault{Kind: f.Kind, Detail: f.Detail, IssuedMS: issued, StartMS: start, EndMS: start})
	c.harness = append(c.harness, reports.Event{TMS: start, Source: h.SourceHarness, Kind: h.KindFaultStart, Detail: f.Kind + ": " + f.Detail, Seq: uint64(i + 1)})
	c.faultsOn = f.Kind
	c.mu.Unlock()
	if f.Stop != nil {
		sleepUntil(ctx, time.Now().Add(f.For))
		// Stop even when ctx ended, so no toxic outlives the run.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := c.onEvery(sctx, f.Stop)
		cancel()
		if err != nil {
			return fmt.Errorf("stress: stop %s: %w", f.Kind, err)
		}
	}
	end := c.now()
	c.mu.Lock()
	c.windows[len(c.windows)-1].EndMS = end
	c.harness = append(c.harness, reports.Event{TMS: end, Source: h.SourceHarness, Kind: h.KindFaultEnd, Detail: f.Kind, Seq: uint64(i + 1)})
	c.faultsOn = ""
	c.faultsRun++
	c.mu.Unlock()
	return ctx.Err()
}

// onEvery applies a fault step to every server and proxy at once.
func (c *coord) onEvery(ctx context.Context, step func(context.Context, *h.Env) error) error {
	errs := make([]error, len(c.envs))
	var wg sync.WaitGroup
	for i, env := range c.envs {
		wg.Go(func() { errs[i] = step(ctx, env) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitUntil polls cond (called with c.mu held) until it holds, ctx ends or
// the deadline passes.
func (c *coord) waitUntil(ctx context.Context, deadline time.Time, cond func() bool) bool {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

func (c *coord) allWarm() bool {
	for _, cs := range c.clients[1:] {
		if !cs.ready || !cs.gotPush {
			return false
		}
	}
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	for _, cs := range c.clients[1:] {
		if !cs.srv.gotSend {
			return false
		}
	}
	return true
}

// allReady: every client that has not stopped for good is ready. Called
// with c.mu held.
func (c *coord) allReady() bool {
	return c.readyNow+c.fatalNow() == c.opts.Clients
}

func (c *coord) fatalNow() int {
	n := 0
	for _, cs := range c.clients[1:] {
		if cs.fatal {
			n++
		}
	}
	return n
}

func (c *coord) warmShortfall() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ready, push, send int
	for _, cs := range c.clients[1:] {
		if cs.ready {
			ready++
		}
		if cs.gotPush {
			push++
		}
		c.srvMu.Lock()
		got := cs.srv.gotSend
		c.srvMu.Unlock()
		if got {
			send++
		}
	}
	msg := fmt.Sprintf("clients never warmed up: %d of %d ready, %d had a server message, %d had a message delivered; last events: %s",
		ready, c.opts.Clients, push, send, c.lastEvents())
	if len(c.errs) > 0 {
		msg += "; " + strings.Join(c.errs, "; ")
	}
	return msg
}

// lastEvents summarises the clients' latest events, most common first:
// what the clients not ready are doing. Called with c.mu held.
func (c *coord) lastEvents() string {
	counts := map[string]int{}
	for _, cs := range c.clients[1:] {
		k := "none"
		if len(cs.events) > 0 {
			e := cs.events[len(cs.events)-1]
			k = strings.TrimSpace(e.Kind + " " + e.Detail)
		}
		counts[k]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return counts[b] - counts[a] })
	var parts []string
	for i, k := range keys {
		if i == 5 {
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

func (c *coord) drained() bool {
	for _, cs := range c.clients[1:] {
		if cs.fatal {
			continue
		}
		c.srvMu.Lock()
		ok := cs.srv.upGot.max >= cs.upSent.max && cs.downGot.max >= cs.srv.downSent.max
		c.srvMu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

func (c *coord) progress(ctx context.Context) {
	t := time.NewTicker(c.opts.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		on := ""
		if c.faultsOn != "" {
			on = " (" + c.faultsOn + " on)"
		}
		var cpu float64
		for _, r := range c.res {
			cpu += r.CPUSeconds
		}
		line := fmt.Sprintf("stress %5.0fs: ready %d/%d, faults %d/%d%s, reconnects %d, workers %d, worker cpu %.1fs\n",
			c.now()/1000, c.readyNow, c.opts.Clients, c.faultsRun, len(c.sched.Faults), on, c.reconn, len(c.workers), cpu)
		c.mu.Unlock()
		fmt.Fprint(c.opts.Progress, line)
	}
}

// onServer tallies the fake server's message events. It runs serialised on
// the server's event path and must not block.
func (c *coord) onServer(ev fakeserver.Event) {
	if ev.Kind != fakeserver.KindRecv && ev.Kind != fakeserver.KindSend {
		return
	}
	idx, err := strconv.Atoi(strings.TrimPrefix(ev.ClientID, "c"))
	if err != nil || idx < 1 || idx >= len(c.clients) {
		return
	}
	t := c.tms(ev.Time.UnixNano())
	cs := c.clients[idx]
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	switch ev.Kind {
	case fakeserver.KindRecv:
		cs.srv.gotSend = true
		cs.srv.upGot.mark(ev.Seq)
	case fakeserver.KindSend:
		// drainAt is written once, under both locks.
		if t <= c.srvDrainAt {
			cs.srv.downSent.mark(ev.Seq)
		}
	}
}

// onWire takes one decoded line from worker w.
func (c *coord) onWire(wp *workerProc, w wire) error {
	switch w.Type {
	case wireHello:
		return nil
	case wireStats, wireBye:
		c.mu.Lock()
		c.res[wp.cfg.Worker] = *w.Stats
		if w.Type == wireBye {
			wp.bye = true
		}
		c.mu.Unlock()
		return nil
	case wireError:
		c.fail("worker %d: %s", wp.cfg.Worker, w.Message)
		return nil
	}
	if w.C < wp.cfg.First || w.C >= wp.cfg.First+wp.cfg.Count {
		return fmt.Errorf("%w: client %d is not one of worker %d's (%d..%d)", ErrWireLine, w.C, wp.cfg.Worker, wp.cfg.First, wp.cfg.First+wp.cfg.Count-1)
	}
	t := c.tms(w.T)
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.clients[w.C]
	switch w.Kind {
	case evSent:
		if t <= c.drainAt {
			cs.upSent.mark(w.Seq)
		}
		return nil
	case evReceived:
		cs.gotPush = true
		cs.downGot.mark(w.Seq)
		return nil
	}
	cs.events = append(cs.events, reports.Event{TMS: t, Source: h.SourceClient, Client: "c" + strconv.Itoa(w.C), Conn: w.Conn,
		Kind: w.Kind, Code: w.Code, Reason: w.Reason, Attempt: w.Attempt, DelayMS: w.DelayMS, HintMS: w.HintMS, Seq: w.Seq, Detail: w.Detail})
	switch client.EventKind(w.Kind) {
	case client.EventReady:
		if !cs.ready {
			c.readyNow++
		}
		c.lastReadyMS = max(c.lastReadyMS, t)
		cs.ready = true
		cs.readies++
		if cs.readies > 1 {
			c.reconn++
		}
	case client.EventDisconnected, client.EventStopped, client.EventFatal:
		if cs.ready {
			c.readyNow--
		}
		cs.ready = false
		if w.Kind == string(client.EventFatal) {
			cs.fatal = true
		}
	case client.EventGap:
		cs.gap += int(w.Seq)
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) bool { return sleepFor(ctx, time.Until(t)) }
