package stress

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wschaos/wschaos/result"
)

// shardProc is one chain shard as the coordinator sees it.
type shardProc struct {
	*proc
	cfg ShardConfig
	// hello receives the shard's proxy URLs, steps its step reports; the
	// reader never blocks on them (one hello, one report per command).
	hello chan []string
	steps chan stepReport
}

// stepLead is how far ahead of now the coordinator schedules a fault's
// start, so that every shard has the command in hand before the moment
// comes and they all begin together: a line read from a pipe wakes its
// goroutine through the poller onto the back of the run queue, which in a
// shard busy with thousands of connections can take a while; a timer's
// wake-up goes to the front. A fault's end is sent as soon as its start is
// done, for the moment the end is due.
const stepLead = 250 * time.Millisecond

// startShards starts the chain shards, each with its share of the proxies,
// and returns every proxy URL, shard by shard.
func (c *coord) startShards(ctx context.Context) ([]string, error) {
	k, proxies := c.opts.ChainShards, c.opts.Proxies
	id := runID()
	for i := range k {
		cfg := ShardConfig{Chain: i + 1, Proxies: proxies/k + btoi(i < proxies%k), Timescale: c.opts.Timescale,
			Proxy: c.opts.Proxy, ToxiproxyURL: c.opts.ToxiproxyURL, RunID: id}
		sp := &shardProc{proc: &proc{name: "shard " + strconv.Itoa(cfg.Chain)}, cfg: cfg,
			hello: make(chan []string, 1), steps: make(chan stepReport, 4)}
		sp.decode = func(b []byte) (wire, error) { return decodeWire(b, fromShard) }
		sp.handle = func(w wire) error { return c.onShardWire(sp, w) }
		err := c.startProc(sp.proc, c.opts.ShardCommand, RunShard, cfg)
		c.shards = append(c.shards, sp)
		if err != nil {
			return nil, err
		}
	}
	var urls []string
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for _, sp := range c.shards {
		select {
		case u := <-sp.hello:
			// Client i dials proxy (i-1) mod len(urls): count the shard's.
			n := 0
			for i := range c.clients {
				if p := (c.first + i - 1) % proxies; p >= len(urls) && p < len(urls)+len(u) {
					n++
				}
			}
			c.mu.Lock()
			c.shardClients[sp.name] = n
			c.mu.Unlock()
			urls = append(urls, u...)
		case <-sp.read:
			return nil, fmt.Errorf("stress: %s ended before it was up: %s", sp.name, c.problems())
		case <-deadline.C:
			return nil, fmt.Errorf("stress: %s not up after 60s", sp.name)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return urls, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// problems is what went wrong so far, for an error message.
func (c *coord) problems() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) == 0 {
		return "no reason given"
	}
	return firstFew(c.errs, "problems")
}

// stopShards stops every chain shard: its proxies and servers close with
// it.
func (c *coord) stopShards() {
	ps := make([]*proc, len(c.shards))
	for i, sp := range c.shards {
		ps[i] = sp.proc
	}
	c.stopProcs(ps, shardCommand{Cmd: cmdStop}, 30*time.Second)
}

// onShardWire takes one decoded line from a chain shard.
func (c *coord) onShardWire(sp *shardProc, w wire) error {
	switch w.Type {
	case wireHello:
		select {
		case sp.hello <- w.URLs:
		default:
			return fmt.Errorf("%w: a second hello", ErrWireLine)
		}
		c.setRes(sp.proc, w)
		return nil
	case wireStats, wireBye:
		c.setRes(sp.proc, w)
		return nil
	case wireError:
		c.fail("%s: %s", sp.name, w.Message)
		return nil
	case wireStep:
		select {
		case sp.steps <- *w.Step:
		default:
			return fmt.Errorf("%w: a step report nobody asked for", ErrWireLine)
		}
		return nil
	}
	c.onServer(w.T, *w.Ev)
	return nil
}

// setRes keeps a child's latest resource figures.
func (c *coord) setRes(p *proc, w wire) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := *w.Stats
	r.Process = p.name
	if n, ok := c.shardClients[p.name]; ok {
		r.Clients = n
	}
	c.res[p.name] = r
	if w.Type == wireBye {
		p.bye = true
	}
}

// sendStep has every chain shard apply one step of fault i at the moment
// at.
func (c *coord) sendStep(i int, p Planned, step string, at time.Time) error {
	cmd := shardCommand{Cmd: cmdFault, Fault: i + 1, Step: step, Planned: &p, AtNS: at.UnixNano()}
	for _, sp := range c.shards {
		if err := sp.send(cmd); err != nil {
			return fmt.Errorf("%s: %w", sp.name, err)
		}
	}
	return nil
}

// hurry has every chain shard apply the step it is waiting for now: the
// run was interrupted, and no fault may outlive it.
func (c *coord) hurry() {
	for _, sp := range c.shards {
		_ = sp.send(shardCommand{Cmd: cmdNow})
	}
}

// collectStep waits for every chain shard's report of the step of fault i
// due at `at` and returns them in shard order.
func (c *coord) collectStep(i int, step string, at time.Time) ([]stepReport, error) {
	deadline := time.NewTimer(time.Until(at) + stepTimeout + 10*time.Second)
	defer deadline.Stop()
	reps := make([]stepReport, len(c.shards))
	var errs []error
	for k, sp := range c.shards {
		select {
		case r := <-sp.steps:
			if r.Fault != i+1 || r.Step != step {
				return nil, fmt.Errorf("%s reported step %s of fault %d, want %s of %d", sp.name, r.Step, r.Fault, step, i+1)
			}
			if r.Error != "" {
				errs = append(errs, fmt.Errorf("%s: %s", sp.name, r.Error))
			}
			reps[k] = r
		case <-sp.read:
			return nil, fmt.Errorf("%s ended: %s", sp.name, c.problems())
		case <-deadline.C:
			return nil, fmt.Errorf("%s did not report the step within %v", sp.name, stepTimeout)
		}
	}
	return reps, errors.Join(errs...)
}

// onServer tallies one of the fake servers' message events, which
// happened at t (Unix ns).
func (c *coord) onServer(t int64, e result.Event) {
	idx, _ := clientIndex(e.Client) // decodeWire checked it
	cs := c.client(idx)
	if cs == nil {
		return
	}
	tms := c.tms(t)
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	switch e.Kind {
	case result.KindRecv:
		cs.srv.gotSend = true
		cs.srv.upGot.add(e.Seq)
	case result.KindSend:
		// drainAt is written once, under both locks.
		if tms <= c.srvDrainAt {
			cs.srv.downSent.add(e.Seq)
		}
	}
}
