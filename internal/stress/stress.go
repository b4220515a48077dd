package stress

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
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

// Report is what Run returns: the stress run as one result scenario, whose
// Stress (never nil) holds the full aggregates.
type Report struct {
	Scenario         result.Scenario
	ToxiproxyMode    string
	ToxiproxyVersion string
}

// Run starts the fake server and Toxiproxy in this process and the clients
// in workers, applies a seeded fault schedule for Duration and aggregates
// the outcome. It returns an error only for bad options; a run that could
// not be set up comes back failed with Scenario.Error set, and one cut
// short by ctx comes back interrupted. Every worker and goroutine it starts
// has stopped when it returns.
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
	switch {
	case ctx.Err() != nil:
		rep.Scenario.Verdict = result.Interrupted
		rep.Scenario.Error = fmt.Sprintf("interrupted after %v: the figures are partial and judge nothing", time.Since(started).Round(time.Millisecond))
	case runErr != nil:
		rep.Scenario.Error = runErr.Error()
		rep.Scenario.Verdict = result.Fail
	}
	return rep, nil
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

	mu sync.Mutex
	// changed is told, under mu, when a client's readiness changes: the
	// waits for warm-up and for every client to be back check again.
	changed *wait.Cond
	clients []*clientState // index 1..N
	harness []result.Event
	windows []result.Fault
	drainAt float64
	// srvDrainAt is drainAt for the server's hook, under srvMu.
	srvDrainAt float64
	workers    []*workerProc
	res        map[int]result.ProcessResources
	readyNow   int
	fatals     int
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
		drainAt: math.Inf(1), srvDrainAt: math.Inf(1), res: map[int]result.ProcessResources{}}
	c.changed = wait.NewCond(&c.mu)
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

// execute runs the phases in order: the chain (servers and proxies), the
// workers, warm-up, the schedule, and the drain.
func (c *coord) execute(ctx context.Context, rep *Report) (err error) {
	smp := startSampler("coordinator", 0, 500*time.Millisecond)
	defer func() {
		c.coordRes = smp.Snapshot()
		smp.Close()
	}()
	defer func() {
		if cerr := c.closeChain(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	urls, err := c.startChain(ctx, rep)
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
	// Whatever happens from here, the workers are stopped on return.
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
	c.drain(ctx)
	return ctx.Err()
}

// startChain starts Toxiproxy and the shards: a fake server and a proxy
// each (see ClientsPerShard); every fault is applied to every shard at
// once. It returns the URLs the clients dial.
func (c *coord) startChain(ctx context.Context, rep *Report) (urls []string, err error) {
	c.toxi, err = chaosnet.StartToxiproxy(ctx, c.opts.ToxiproxyURL)
	if err != nil {
		return nil, fmt.Errorf("stress: toxiproxy: %w", err)
	}
	rep.ToxiproxyMode = c.toxi.Mode()
	if v, verr := c.toxi.Version(ctx); verr == nil {
		rep.ToxiproxyVersion = v
	}
	for i := range c.opts.Shards {
		srv, err := fakeserver.New(fakeserver.Options{PushInterval: time.Duration(float64(basePush) * c.opts.Timescale), OnEvent: c.onServer})
		if err != nil {
			return nil, fmt.Errorf("stress: fake server: %w", err)
		}
		env := &h.Env{Server: srv}
		c.envs = append(c.envs, env)
		env.Proxy, err = c.toxi.NewProxy(ctx, fmt.Sprintf("wschaos-stress-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), i+1), srv.Addr())
		if err != nil {
			return nil, fmt.Errorf("stress: proxy: %w", err)
		}
		urls = append(urls, "ws://"+env.Proxy.Addr()+"/ws")
	}
	return urls, nil
}

// closeChain deletes the proxies and closes the servers (Env.Close), then
// Toxiproxy.
func (c *coord) closeChain() error {
	if c.toxi == nil {
		return nil
	}
	var errs []error
	for _, env := range c.envs {
		errs = append(errs, env.Close())
	}
	errs = append(errs, c.toxi.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stress: teardown: %w", err)
	}
	return nil
}

// startWorkers starts the workers, each with its share of the clients,
// and returns the ramp their first dials are spread over.
func (c *coord) startWorkers(urls []string) (ramp time.Duration, err error) {
	per := (c.opts.Clients + c.opts.Workers - 1) / c.opts.Workers
	// First dials at 500 a second over all workers (each spreads its own
	// clients over the whole ramp): faster, and the listen backlogs of the
	// proxy and the server (somaxconn, 4096 here) overflow while the
	// machine is busy setting connections up, and dropped SYNs come back
	// only after a 1s retransmit.
	rampMS := float64(c.opts.Clients) * 2
	for w := 0; w*per < c.opts.Clients; w++ {
		cfg := WorkerConfig{Worker: w + 1, URLs: urls, First: w*per + 1, Count: min(per, c.opts.Clients-w*per), Seed: c.opts.Seed,
			Timescale: c.opts.Timescale, RampMS: rampMS}
		wp, err := c.startWorker(cfg)
		if wp != nil {
			c.mu.Lock()
			c.workers = append(c.workers, wp)
			c.mu.Unlock()
		}
		if err != nil {
			return 0, err
		}
	}
	return time.Duration(rampMS * float64(time.Millisecond)), nil
}

// waitFor waits, as the harness's runner does, until cond (called with
// c.mu held) holds, ctx ends or the deadline passes. It polls too: the
// server's hook changes state under srvMu, which must not wait on the busy
// mu to say so.
func (c *coord) waitFor(ctx context.Context, deadline time.Time, cond func() bool) bool {
	return c.changed.Wait(ctx, deadline, 100*time.Millisecond, cond)
}

// warmUp waits until every client is ready with traffic both ways, and
// starts the schedule's clock.
func (c *coord) warmUp(ctx context.Context, ramp time.Duration) (time.Time, error) {
	o := c.eff
	warmBy := time.Now().Add(ramp + 2*(o.HandshakeTimeout+o.Backoff.Max) + 10*time.Second)
	if !c.waitFor(ctx, warmBy, c.allWarm) {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		return time.Time{}, fmt.Errorf("stress: invalid run: %s", c.warmShortfall())
	}
	c.mu.Lock()
	c.warmOK = true
	c.mu.Unlock()
	c.record(result.Event{Kind: result.KindWarm, Count: uint64(c.opts.Clients)})
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
			waited, err := c.waitHealthy(ctx, i)
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

// waitHealthy waits before fault i until every client is ready and has
// been for MinHealthyUptime, and returns how long that took when it was
// long enough to slide the schedule.
func (c *coord) waitHealthy(ctx context.Context, i int) (time.Duration, error) {
	o := c.eff
	planned := time.Now()
	settleBy := planned.Add(2*(o.Backoff.Max+o.HandshakeTimeout) + 30*time.Second)
	if !c.waitFor(ctx, settleBy, c.allReady) {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		c.note("not every client was ready again %v after fault %d's planned start; starting it anyway", settleBy.Sub(planned).Round(time.Second), i+1)
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
	c.note("fault %d waited %v for every client to be ready for MinHealthyUptime %v", i+1, waited.Round(time.Millisecond), o.MinHealthyUptime)
	return waited, nil
}

// runFault applies fault i to every shard, and ends it after its duration.
func (c *coord) runFault(ctx context.Context, i int, f h.Fault) error {
	issued := c.now()
	if err := c.onEvery(ctx, f.Start); err != nil {
		return fmt.Errorf("stress: start %s: %w", f.Kind, err)
	}
	start := c.now()
	c.mu.Lock()
	c.windows = append(c.windows, result.Fault{Index: i + 1, Kind: f.Kind, Layer: cmp.Or(f.Layer, result.LayerNetwork), Text: f.Text,
		IssuedMS: issued, StartMS: start, EndMS: start})
	c.harness = append(c.harness, result.Event{TMS: start, Source: result.SourceHarness, Kind: result.KindFaultStart, Fault: i + 1, Text: f.Kind + ": " + f.Text})
	c.faultsOn = f.Kind
	c.mu.Unlock()
	if f.Stop != nil {
		wait.Sleep(ctx, f.For)
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
	c.harness = append(c.harness, result.Event{TMS: end, Source: result.SourceHarness, Kind: result.KindFaultEnd, Fault: i + 1})
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

// drain stops producing, then gives what is in flight the harness's drain
// time to arrive, so that a message sent in the last moment is not counted
// as lost.
func (c *coord) drain(ctx context.Context) {
	c.mu.Lock()
	c.srvMu.Lock()
	c.drainAt = c.now()
	c.srvDrainAt = c.drainAt
	c.srvMu.Unlock()
	c.mu.Unlock()
	c.broadcast(command{Cmd: cmdDrain})
	for _, env := range c.envs {
		env.Server.SetPush(0)
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
		line := fmt.Sprintf("stress %5.0fs: ready %d/%d, faults %d/%d%s, reconnects %d, workers %d, worker cpu %.1fs\n",
			c.now()/1000, c.readyNow, c.opts.Clients, c.faultsRun, len(c.sched.Faults), on, c.reconn, len(c.workers), cpu)
		c.mu.Unlock()
		fmt.Fprint(c.opts.Progress, line)
	}
}
