package stress

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/wait"
	"github.com/wschaos/wschaos/result"
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

// ClientsPerProxy is how many clients share one fake server and one proxy
// by default. Toxiproxy accepts on one goroutine per proxy and dials the
// upstream before it accepts the next connection; in a process running
// tens of thousands of goroutines each of those dials waits its turn on the
// run queue, which held one proxy to about 500 new connections a second on
// a 2-core machine. Twenty proxies for 5,000 clients accept in parallel.
const ClientsPerProxy = 250

// chainFDsPerClient is what one client costs a chain shard in descriptors
// with each proxy: the relay's end of the client's connection, as the relay
// reaches its fake server in memory (package memnet); with Toxiproxy, which
// dials its upstream over TCP, that and the two ends of the proxy's
// connection to the server. During a reconnect herd a closed connection's
// descriptor can outlive the next one's setup for a moment, so a shard is
// sized to fdShare of its limit.
var chainFDsPerClient = map[string]int{ProxyRelay: 1, ProxyToxiproxy: 3}

const fdShare = 0.6

// ChainShardsFor is how many chain shards clients need behind proxy
// (ProxyRelay or ProxyToxiproxy) when each process may hold fdLimit
// descriptors: enough that each holds at most fdShare of its limit at
// chainFDsPerClient per client (12,000 clients a shard under a limit of
// 20,000 with the relay, 4,000 with Toxiproxy). An unknown limit counts as
// 1,024.
func ChainShardsFor(clients int, fdLimit int64, proxy string) int {
	if fdLimit <= 0 {
		fdLimit = 1024
	}
	per := max(1, int(float64(fdLimit)*fdShare)/cmp.Or(chainFDsPerClient[proxy], 3))
	return max(1, (clients+per-1)/per)
}

// Split makes a run one shard of a run split over several machines: the
// run takes its share of the clients, c1..cN cut into Of equal parts, and
// starts its fault schedule at StartAt (if set), so that every shard's
// faults fall at the same scheduled time.
type Split struct {
	Index, Of int
	StartAt   time.Time
}

// share is the shard's clients of total: the first and how many.
func (s Split) share(total int) (first, count int) {
	per := (total + s.Of - 1) / s.Of
	first = s.Index*per + 1
	return first, min(per, total-s.Index*per)
}

// Options configure Run. The zero value of each field means its default.
type Options struct {
	// Clients is how many reference clients run (with Split, in the whole
	// split run). Required.
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
	// ceil(clients / ClientsPerWorker).
	Workers int
	// ChainShards is how many chain shard processes run the fake servers
	// and proxies. Defaults to ChainShardsFor(clients, this process's
	// descriptor limit, Proxy).
	ChainShards int
	// InProcess runs the workers and chain shards as goroutines in this
	// process, speaking the same protocol over pipes: for tests and small
	// runs.
	InProcess bool
	// WorkerCommand starts a worker process: the program and its arguments.
	// Defaults to this executable with the argument "worker".
	WorkerCommand []string
	// ShardCommand starts a chain shard process. Defaults to this
	// executable with the argument "shard".
	ShardCommand []string
	// Proxies is how many fake servers, each behind its own proxy, serve the
	// clients over all chain shards; client i uses proxy (i-1) mod Proxies,
	// and every fault hits every proxy at once. Defaults to
	// ceil(Clients / ClientsPerProxy), at least one per chain shard.
	Proxies int
	// Proxy is ProxyRelay (the default) or ProxyToxiproxy.
	Proxy string
	// WorkerEnv is added to the workers' and shards' environment.
	WorkerEnv []string
	// ToxiproxyURL names an external toxiproxy-server (with Proxy
	// ProxyToxiproxy). Empty embeds one in each chain shard.
	ToxiproxyURL string
	// Split makes this run one shard of a run split over machines.
	Split *Split
	// Progress receives a progress line every ProgressEvery. Nil means none.
	Progress io.Writer
	// ProgressEvery defaults to 3s.
	ProgressEvery time.Duration
}

func (o *Options) defaults() error {
	if o.Clients < 1 {
		return fmt.Errorf("stress: clients %d: want 1 or more", o.Clients)
	}
	if sp := o.Split; sp != nil {
		if sp.Of < 1 || sp.Index < 0 || sp.Index >= sp.Of {
			return fmt.Errorf("stress: shard %d/%d: want an index from 0 to the shard count - 1", sp.Index, sp.Of)
		}
		if _, n := sp.share(o.Clients); n < 1 {
			return fmt.Errorf("stress: shard %d/%d of %d clients has no clients: use fewer shards", sp.Index, sp.Of, o.Clients)
		}
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
	switch o.Proxy {
	case "":
		o.Proxy = ProxyRelay
		if o.ToxiproxyURL != "" {
			o.Proxy = ProxyToxiproxy
		}
	case ProxyRelay, ProxyToxiproxy:
	default:
		return fmt.Errorf("stress: proxy %q: want %s or %s", o.Proxy, ProxyRelay, ProxyToxiproxy)
	}
	if o.ToxiproxyURL != "" && o.Proxy != ProxyToxiproxy {
		return fmt.Errorf("stress: an external toxiproxy-server (%s) needs proxy %s, not %s", o.ToxiproxyURL, ProxyToxiproxy, o.Proxy)
	}
	n := o.Clients
	if o.Split != nil {
		_, n = o.Split.share(o.Clients)
	}
	for _, f := range []struct {
		name string
		v    *int
		auto int
		per  string
	}{
		{"chain shards", &o.ChainShards, ChainShardsFor(n, fdLimit(), o.Proxy), "sized to the descriptor limit"},
		{"workers", &o.Workers, (n + ClientsPerWorker - 1) / ClientsPerWorker, fmt.Sprintf("one per %d clients", ClientsPerWorker)},
		{"proxies", &o.Proxies, (n + ClientsPerProxy - 1) / ClientsPerProxy, fmt.Sprintf("one per %d clients", ClientsPerProxy)},
	} {
		if *f.v < 0 {
			return fmt.Errorf("stress: %s %d: want 0 (%s) or more", f.name, *f.v, f.per)
		}
		if *f.v == 0 {
			*f.v = f.auto
		}
		*f.v = min(*f.v, n)
	}
	o.Proxies = max(o.Proxies, o.ChainShards)
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 3 * time.Second
	}
	if !o.InProcess && (len(o.WorkerCommand) == 0 || len(o.ShardCommand) == 0) {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("stress: cannot find this executable to start workers and shards: %w", err)
		}
		if len(o.WorkerCommand) == 0 {
			o.WorkerCommand = []string{exe, "worker"}
		}
		if len(o.ShardCommand) == 0 {
			o.ShardCommand = []string{exe, "shard"}
		}
	}
	return nil
}

// Report is what Run returns: the stress run as one result scenario, whose
// Stress (never nil) holds the full aggregates.
type Report struct {
	Scenario      result.Scenario
	ToxiproxyMode string
}

// Run starts the chain shards (fake servers and proxies) and the clients
// in workers, applies a seeded fault schedule for Duration and aggregates
// the outcome. It returns an error only for bad options; a run that could
// not be set up comes back failed with Scenario.Error set, and one cut
// short by ctx comes back interrupted. Every process and goroutine it
// starts has stopped when it returns.
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
	switch {
	case opts.ToxiproxyURL != "":
		rep.ToxiproxyMode = chaosnet.ModeExternal
	case opts.Proxy == ProxyToxiproxy:
		rep.ToxiproxyMode = chaosnet.ModeEmbedded
	}
	runErr := c.execute(ctx)
	rep.Scenario = c.results()
	rep.Scenario.DurationMS = msOf(time.Since(started))
	switch {
	case ctx.Err() != nil:
		rep.Scenario.Verdict = result.Interrupted
		rep.Scenario.Error = fmt.Sprintf("interrupted after %v: the figures are partial and judge nothing", time.Since(started).Round(time.Millisecond))
	case runErr != nil:
		rep.Scenario.Error = runErr.Error()
		rep.Scenario.Verdict = result.Fail
	}
	if sp := rep.Scenario.Stress.Shard; sp != nil {
		sp.Verdict = rep.Scenario.Verdict
	}
	return rep, nil
}

type coord struct {
	opts     Options
	sched    Schedule
	eff      client.Options
	origin   time.Time
	originNS int64
	// first is the global index of the run's first client; clients[k] is
	// client first+k.
	first int

	srvMu sync.Mutex // clientState.srv; taken after mu when both are

	mu sync.Mutex
	// changed is told, under mu, when a client's readiness changes: the
	// waits for warm-up and for every client to be back check again.
	changed *wait.Cond
	clients []*clientState
	harness []result.Event
	windows []result.Fault
	// timings[i] is each chain shard's timing of fault i.
	timings [][]result.StressShardTiming
	drainAt float64
	// srvDrainAt is drainAt for the servers' events, under srvMu.
	srvDrainAt float64
	workers    []*proc
	shards     []*shardProc
	// shardClients counts each chain shard's clients, by process name.
	shardClients map[string]int
	res          map[string]result.ProcessResources
	readyNow     int
	fatals       int
	// lastReadyMS is the latest ready event of any client.
	lastReadyMS float64
	reconn      int
	faultsOn    string
	faultsRun   int
	errs        []string
	warmOK      bool
	coordRes    result.ProcessResources
}

func newCoord(opts Options, sched Schedule) *coord {
	c := &coord{opts: opts, sched: sched, eff: effective(opts.Timescale), origin: time.Now(),
		drainAt: math.Inf(1), srvDrainAt: math.Inf(1), res: map[string]result.ProcessResources{}, shardClients: map[string]int{}, first: 1}
	c.changed = wait.NewCond(&c.mu)
	c.originNS = c.origin.UnixNano()
	n := opts.Clients
	if opts.Split != nil {
		c.first, n = opts.Split.share(opts.Clients)
	}
	c.clients = make([]*clientState, n)
	for i := range c.clients {
		c.clients[i] = &clientState{}
	}
	return c
}

// client is the state of the client with global index idx, or nil when it
// is not one of the run's.
func (c *coord) client(idx int) *clientState {
	if k := idx - c.first; k >= 0 && k < len(c.clients) {
		return c.clients[k]
	}
	return nil
}

func (c *coord) tms(ns int64) float64 { return float64(ns-c.originNS) / 1e6 }
func (c *coord) now() float64         { return msOf(time.Since(c.origin)) }

func (c *coord) fail(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// record adds one of the harness's own events to the timeline, now.
func (c *coord) record(e result.Event) {
	e.Source = result.SourceHarness
	c.mu.Lock()
	e.TMS = c.now()
	c.harness = append(c.harness, e)
	c.mu.Unlock()
}

func (c *coord) note(format string, args ...any) {
	c.record(result.Event{Kind: result.KindNote, Text: fmt.Sprintf(format, args...)})
}

// execute runs the phases in order: the chain shards, the workers,
// warm-up, the schedule, and the drain.
func (c *coord) execute(ctx context.Context) (err error) {
	smp := startSampler("coordinator", 0, 500*time.Millisecond)
	defer func() {
		c.coordRes = smp.Final()
		smp.Close()
	}()
	// Whatever happens from here, the shards are stopped on return.
	defer c.stopShards()
	urls, err := c.startShards(ctx)
	if err != nil {
		return err
	}
	var faults []h.Fault
	for _, p := range c.sched.Faults {
		f, err := p.Fault()
		if err != nil {
			return err
		}
		faults = append(faults, f)
	}
	defer c.stopWorkers()
	ramp, err := c.startWorkers(urls)
	if err != nil {
		return err
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
	warmAt, err := c.warmUp(ctx, ramp)
	if err != nil {
		return err
	}
	slide, err := c.applySchedule(ctx, warmAt, faults)
	if err != nil {
		return err
	}
	if !wait.SleepUntil(ctx, warmAt.Add(c.opts.Duration+slide)) {
		return ctx.Err()
	}
	return c.finish(ctx)
}

// finish ends the run once every client is back: the schedule leaves each
// fault its recovery bound and more, counted from its planned end, but a
// fault step on thousands of connections can return seconds after that,
// and a run that then ended on time would cut off the recovery of the
// clients the step reached last, which would count as never recovered. So
// the drain waits, as a fault does, for every client to be ready for
// MinHealthyUptime.
func (c *coord) finish(ctx context.Context) error {
	if _, err := c.waitHealthy(ctx, "the drain"); err != nil {
		return err
	}
	c.drain(ctx)
	return ctx.Err()
}

// startWorkers starts the workers, each with its share of the clients,
// and returns the ramp their first dials are spread over.
func (c *coord) startWorkers(urls []string) (ramp time.Duration, err error) {
	n := len(c.clients)
	per := (n + c.opts.Workers - 1) / c.opts.Workers
	// First dials at 500 a second over all workers (each spreads its own
	// clients over the whole ramp): faster, and the listen backlogs of the
	// proxy and the server (somaxconn, 4096 here) overflow while the
	// machine is busy setting connections up, and dropped SYNs come back
	// only after a 1s retransmit.
	rampMS := float64(n) * 2
	for w := 0; w*per < n; w++ {
		cfg := WorkerConfig{Worker: w + 1, URLs: urls, First: c.first + w*per, Count: min(per, n-w*per), Seed: c.opts.Seed,
			Timescale: c.opts.Timescale, RampMS: rampMS}
		wp := &proc{name: "worker " + strconv.Itoa(cfg.Worker), decode: func(b []byte) (wire, error) { return decodeWire(b, fromWorker) }}
		wp.handle = func(w wire) error { return c.onWire(wp, cfg, w) }
		err := c.startProc(wp, c.opts.WorkerCommand, RunWorker, cfg)
		c.mu.Lock()
		c.workers = append(c.workers, wp)
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return time.Duration(rampMS * float64(time.Millisecond)), nil
}

// stopWorkers asks every worker to stop and waits for it.
func (c *coord) stopWorkers() {
	c.mu.Lock()
	ws := slices.Clone(c.workers)
	c.mu.Unlock()
	c.stopProcs(ws, command{Cmd: cmdStop}, c.eff.CloseGrace+15*time.Second)
}

// waitFor waits, as the harness's runner does, until cond (called with
// c.mu held) holds, ctx ends or the deadline passes. It polls too: the
// servers' events change state under srvMu, which must not wait on the
// busy mu to say so.
func (c *coord) waitFor(ctx context.Context, deadline time.Time, cond func() bool) bool {
	return c.changed.Wait(ctx, deadline, 100*time.Millisecond, cond)
}

// warmUp waits until every client is ready with traffic both ways, and
// starts the schedule's clock: at once, or at the split run's scheduled
// start.
func (c *coord) warmUp(ctx context.Context, ramp time.Duration) (time.Time, error) {
	o := c.eff
	warmBy := time.Now().Add(ramp + 2*(o.HandshakeTimeout+o.Backoff.Max) + 10*time.Second)
	if sp := c.opts.Split; sp != nil && sp.StartAt.After(warmBy) {
		warmBy = sp.StartAt
	}
	if !c.waitFor(ctx, warmBy, c.allWarm) {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		return time.Time{}, fmt.Errorf("stress: invalid run: %s", c.warmShortfall())
	}
	c.mu.Lock()
	c.warmOK = true
	c.mu.Unlock()
	c.record(result.Event{Kind: result.KindWarm, Count: uint64(len(c.clients))})
	if sp := c.opts.Split; sp != nil && !sp.StartAt.IsZero() {
		if late := time.Since(sp.StartAt); late > 0 {
			c.note("warm %v after the scheduled start %s: this shard's schedule runs that much late", late.Round(time.Millisecond), sp.StartAt.UTC().Format(time.RFC3339Nano))
			return time.Now(), nil
		}
		if !wait.SleepUntil(ctx, sp.StartAt) {
			return time.Time{}, ctx.Err()
		}
		return sp.StartAt, nil
	}
	return time.Now(), nil
}

// applySchedule applies every fault. Each starts at its planned time, or
// later if the clients are not all back from the previous one: every fault
// is measured from a healthy state (every client ready for
// MinHealthyUptime), so a slow recovery shows as a missed target of the
// fault that caused it rather than as a cascade through the rest of the
// schedule. The schedule slides; it returns by how much.
func (c *coord) applySchedule(ctx context.Context, warmAt time.Time, faults []h.Fault) (slide time.Duration, err error) {
	for i, f := range faults {
		if !wait.SleepUntil(ctx, warmAt.Add(f.At+slide)) {
			return slide, ctx.Err()
		}
		if i > 0 {
			waited, err := c.waitHealthy(ctx, fmt.Sprintf("fault %d", i+1))
			if err != nil {
				return slide, err
			}
			slide += waited
		}
		if err := c.runFault(ctx, i, f); err != nil {
			return slide, err
		}
	}
	return slide, nil
}

// waitHealthy waits before what comes next (a fault, or the drain) until
// every client is ready and has been for MinHealthyUptime, and returns how
// long that took when it was long enough to slide the schedule.
func (c *coord) waitHealthy(ctx context.Context, next string) (time.Duration, error) {
	o := c.eff
	planned := time.Now()
	settleBy := planned.Add(2*(o.Backoff.Max+o.HandshakeTimeout) + 30*time.Second)
	if !c.waitFor(ctx, settleBy, c.allReady) {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		c.note("not every client was ready again %v after the planned start of %s; going on anyway", settleBy.Sub(planned).Round(time.Second), next)
	}
	// A client resets its backoff only after MinHealthyUptime on one
	// connection, so a fault that hits it sooner finds it on a later
	// attempt, with a longer delay: the right behaviour, but then the fault
	// would not start from a healthy state. Every client gets
	// MinHealthyUptime (and a little for rounding) since its latest ready.
	c.mu.Lock()
	healthyAt := c.lastReadyMS + msOf(o.MinHealthyUptime) + healthyMarginMS
	c.mu.Unlock()
	if left := healthyAt - c.now(); left > 0 && !wait.Sleep(ctx, time.Duration(left*float64(time.Millisecond))) {
		return 0, ctx.Err()
	}
	waited := time.Since(planned)
	if waited <= 50*time.Millisecond {
		return 0, nil
	}
	c.note("%s waited %v for every client to be ready for MinHealthyUptime %v", next, waited.Round(time.Millisecond), o.MinHealthyUptime)
	return waited, nil
}

// runFault applies fault i on every chain shard at once, and ends it after
// its duration. The window runs from the first shard beginning the fault
// to the last one done starting it, and on to the last one done ending
// it.
func (c *coord) runFault(ctx context.Context, i int, f h.Fault) error {
	p := c.sched.Faults[i]
	at := time.Now().Add(stepLead)
	if err := c.sendStep(i, p, stepStart, at); err != nil {
		return fmt.Errorf("stress: start %s: %w", f.Kind, err)
	}
	reps, err := c.collectStep(i, stepStart, at)
	if err != nil {
		return fmt.Errorf("stress: start %s: %w", f.Kind, err)
	}
	timings := make([]result.StressShardTiming, len(reps))
	began, start := math.Inf(1), math.Inf(-1)
	var doneNS int64
	for k, r := range reps {
		timings[k] = result.StressShardTiming{Shard: c.shardIndex(), Chain: k + 1, BeganMS: c.tms(r.BeganNS), StartMS: c.tms(r.DoneNS)}
		began, start = math.Min(began, timings[k].BeganMS), math.Max(start, timings[k].StartMS)
		doneNS = max(doneNS, r.DoneNS)
	}
	c.mu.Lock()
	c.windows = append(c.windows, result.Fault{Index: i + 1, Kind: f.Kind, Layer: cmp.Or(f.Layer, result.LayerNetwork), Text: f.Text,
		IssuedMS: began, StartMS: start, EndMS: start})
	c.timings = append(c.timings, timings)
	c.harness = append(c.harness, result.Event{TMS: start, Source: result.SourceHarness, Kind: result.KindFaultStart, Fault: i + 1, Text: f.Kind + ": " + f.Text})
	c.faultsOn = f.Kind
	c.mu.Unlock()
	end := start
	if f.Stop != nil {
		// The end is sent now, for when it is due, and stopped even when
		// ctx ends (at once then), so no fault outlives the run.
		stopAt := time.Unix(0, doneNS).Add(f.For)
		if err := c.sendStep(i, p, stepStop, stopAt); err != nil {
			return fmt.Errorf("stress: stop %s: %w", f.Kind, err)
		}
		if !wait.SleepUntil(ctx, stopAt) {
			c.hurry()
		}
		reps, err := c.collectStep(i, stepStop, stopAt)
		if err != nil {
			return fmt.Errorf("stress: stop %s: %w", f.Kind, err)
		}
		for k, r := range reps {
			timings[k].StopMS, timings[k].EndMS = c.tms(r.BeganNS), c.tms(r.DoneNS)
			end = math.Max(end, timings[k].EndMS)
		}
	}
	c.mu.Lock()
	c.windows[len(c.windows)-1].EndMS = end
	c.harness = append(c.harness, result.Event{TMS: end, Source: result.SourceHarness, Kind: result.KindFaultEnd, Fault: i + 1})
	c.faultsOn = ""
	c.faultsRun++
	c.mu.Unlock()
	return ctx.Err()
}

// shardIndex is the run's index in a split run, 0 otherwise.
func (c *coord) shardIndex() int {
	if c.opts.Split != nil {
		return c.opts.Split.Index
	}
	return 0
}

// drain stops producing, then gives what is in flight the harness's drain
// time to arrive, so that a message sent in the last moment is not counted
// as lost.
func (c *coord) drain(ctx context.Context) {
	c.mu.Lock()
	c.srvMu.Lock()
	c.drainAt = c.now()
	c.srvDrainAt = c.drainAt
	c.srvMu.Unlock()
	ws := slices.Clone(c.workers)
	c.mu.Unlock()
	for _, wp := range ws {
		_ = wp.send(command{Cmd: cmdDrain})
	}
	for _, sp := range c.shards {
		_ = sp.send(shardCommand{Cmd: cmdDrain})
	}
	c.record(result.Event{Kind: result.KindDrain, Text: "workload and push stopped; waiting for messages in flight"})
	drain := h.DrainTime(c.eff)
	if !c.waitFor(ctx, time.Now().Add(drain), c.drained) {
		c.note("messages still in flight after a drain of %v", drain)
	}
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
		line := fmt.Sprintf("stress %5.0fs: ready %d/%d, faults %d/%d%s, reconnects %d, shards %d, workers %d, their cpu %.1fs\n",
			c.now()/1000, c.readyNow, len(c.clients), c.faultsRun, len(c.sched.Faults), on, c.reconn, len(c.shards), len(c.workers), cpu)
		c.mu.Unlock()
		fmt.Fprint(c.opts.Progress, line)
	}
}
