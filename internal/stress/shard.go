package stress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/wschaos/wschaos/fakeserver"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/memnet"
	"github.com/wschaos/wschaos/internal/relay"
	"github.com/wschaos/wschaos/result"
)

// What stands between the clients and the fake servers.
const (
	// ProxyRelay is the harness's lean relay (package relay): one
	// goroutine and a 2 KiB buffer per direction.
	ProxyRelay = "relay"
	// ProxyToxiproxy is Toxiproxy, embedded in each chain shard or the
	// external toxiproxy-server Options.ToxiproxyURL names.
	ProxyToxiproxy = "toxiproxy"
)

// Fault steps.
const (
	stepStart = "start"
	stepStop  = "stop"
)

// shardCommand is one command to a chain shard.
type shardCommand struct {
	Cmd     string   `json:"cmd"`
	Fault   int      `json:"fault,omitempty"`
	Step    string   `json:"step,omitempty"`
	Planned *Planned `json:"planned,omitempty"`
	AtNS    int64    `json:"at_ns,omitempty"`
}

// Shard commands besides drain and stop.
const (
	cmdFault = "fault"
	// cmdNow has the shard apply the step it is waiting for at once.
	cmdNow = "now"
)

// ShardConfig is the first line a chain shard reads.
type ShardConfig struct {
	// Chain is the shard's index, from 1.
	Chain int `json:"chain"`
	// Proxies is how many fake servers it runs, each behind its own proxy.
	Proxies   int     `json:"proxies"`
	Timescale float64 `json:"timescale"`
	// Proxy is ProxyRelay or ProxyToxiproxy.
	Proxy        string `json:"proxy"`
	ToxiproxyURL string `json:"toxiproxy_url,omitempty"`
	// RunID makes Toxiproxy proxy names unique on a shared server.
	RunID string `json:"run_id"`
}

func (c ShardConfig) validate() error {
	var errs []error
	if c.Chain < 1 || c.Proxies < 1 {
		errs = append(errs, fmt.Errorf("chain %d and proxies %d must both be 1 or more", c.Chain, c.Proxies))
	}
	if c.Timescale <= 0 {
		errs = append(errs, fmt.Errorf("timescale %g must be above 0", c.Timescale))
	}
	if c.Proxy != ProxyRelay && c.Proxy != ProxyToxiproxy {
		errs = append(errs, fmt.Errorf("proxy %q: want %s or %s", c.Proxy, ProxyRelay, ProxyToxiproxy))
	}
	if c.ToxiproxyURL != "" && c.Proxy != ProxyToxiproxy {
		errs = append(errs, fmt.Errorf("toxiproxy_url with proxy %q: an external toxiproxy-server needs proxy %s", c.Proxy, ProxyToxiproxy))
	}
	return configError("shard", errs)
}

// pair is one fake server and the proxy in front of it.
type pair struct {
	srv   *fakeserver.Server
	toxi  *chaosnet.Proxy // ProxyToxiproxy
	relay *relay.Relay    // ProxyRelay
}

func (p *pair) addr() string {
	if p.relay != nil {
		return p.relay.Addr()
	}
	return p.toxi.Addr()
}

// step applies one step of fault f (planned as pl) to the pair: the
// network faults on the relay through its own calls, everything else as
// the harness's fault does it.
func (p *pair) step(ctx context.Context, pl Planned, f h.Fault, start bool) error {
	if p.relay != nil {
		switch pl.Kind {
		case h.FaultProxyDown:
			if start {
				return p.relay.Disable(ctx)
			}
			return p.relay.Enable(ctx)
		case h.FaultBlackHole:
			return p.relay.SetBlackHole(ctx, start)
		case h.FaultLatency:
			d := time.Duration(0)
			if start {
				d = pl.Delay
			}
			return p.relay.SetLatency(ctx, d)
		}
	}
	env := &h.Env{Server: p.srv, Proxy: p.toxi}
	switch {
	case start:
		return f.Start(ctx, env)
	case f.Stop != nil:
		return f.Stop(ctx, env)
	}
	return nil
}

// shard is one chain shard process's state.
type shard struct {
	cfg   ShardConfig
	lw    *lineWriter
	toxi  *chaosnet.Toxiproxy
	pairs []*pair
	// hurry is told by the command reader, on "now", to end the wait for
	// a step's moment.
	hurry chan struct{}
	// reader is the goroutine reading the input; it ends with the input.
	reader sync.WaitGroup
}

// RunShard runs one chain shard: it reads a ShardConfig line from in,
// starts that many fake servers each behind a proxy, reports their URLs,
// applies the fault steps it is sent at the times they name and streams
// the servers' message events to out, until in says stop or ends, or ctx
// ends. It returns after everything it started has stopped and the last
// line ("bye") is written.
func RunShard(ctx context.Context, in io.Reader, out io.Writer) error {
	lw := newLineWriter(out)
	cfg, sc, err := readConfig[ShardConfig]("shard", in, lw)
	if err != nil {
		return err
	}
	s := &shard{cfg: cfg, lw: lw, hurry: make(chan struct{}, 1)}
	smp := startSampler("shard "+strconv.Itoa(cfg.Chain), 0, 500*time.Millisecond)
	defer smp.Close()
	defer func() { _ = s.close() }() // on the way out of a failure; close is idempotent
	if err := s.start(ctx); err != nil {
		return lw.fail(err)
	}
	urls := make([]string, len(s.pairs))
	for i, p := range s.pairs {
		urls[i] = "ws://" + p.addr() + "/ws"
	}
	lw.send(wire{Type: wireHello, T: time.Now().UnixNano(), Chain: cfg.Chain, URLs: urls, Stats: ptrTo(smp.Snapshot())})
	stopWriter := startWriter(lw, func() wire {
		return wire{Type: wireStats, T: time.Now().UnixNano(), Chain: cfg.Chain, Stats: ptrTo(smp.Snapshot())}
	}, func() {})
	s.commands(ctx, sc)
	stopWriter()
	if cerr := s.close(); cerr != nil {
		lw.send(wire{Type: wireError, T: time.Now().UnixNano(), Message: cerr.Error()})
	}
	lw.send(wire{Type: wireBye, T: time.Now().UnixNano(), Chain: cfg.Chain, Stats: ptrTo(smp.Final())})
	err = lw.flush()
	// The input reader ends at "stop" or the end of the input; closing
	// the input ends it otherwise.
	if closer, ok := in.(io.Closer); ok {
		_ = closer.Close()
	}
	s.reader.Wait()
	return err
}

// start runs the servers and the proxies.
func (s *shard) start(ctx context.Context) error {
	if s.cfg.Proxy == ProxyToxiproxy {
		var err error
		if s.toxi, err = chaosnet.StartToxiproxy(ctx, s.cfg.ToxiproxyURL); err != nil {
			return fmt.Errorf("stress: shard %d: toxiproxy: %w", s.cfg.Chain, err)
		}
	}
	push := time.Duration(float64(basePush) * s.cfg.Timescale)
	for i := range s.cfg.Proxies {
		opts := fakeserver.Options{Addr: net.JoinHostPort(loopbackAddr(), "0"), PushInterval: push, OnEvent: s.onServer}
		// Toxiproxy dials its upstream over TCP; the relay reaches its
		// server in memory (see chainFDsPerClient).
		var mem *memnet.Network
		if s.toxi == nil {
			mem = memnet.New(fmt.Sprintf("shard%d-server%d", s.cfg.Chain, i+1))
			opts.Listen = mem.Listen
		}
		srv, err := fakeserver.New(opts)
		if err != nil {
			return fmt.Errorf("stress: shard %d: fake server: %w", s.cfg.Chain, err)
		}
		p := &pair{srv: srv}
		s.pairs = append(s.pairs, p)
		if s.toxi != nil {
			name := fmt.Sprintf("wschaos-stress-%s-%d-%d", s.cfg.RunID, s.cfg.Chain, i+1)
			p.toxi, err = s.toxi.NewProxyOn(ctx, name, net.JoinHostPort(loopbackAddr(), "0"), srv.Addr())
		} else {
			p.relay, err = relay.NewDial(net.JoinHostPort(loopbackAddr(), "0"), srv.Addr(), mem.Dial)
		}
		if err != nil {
			return fmt.Errorf("stress: shard %d: proxy: %w", s.cfg.Chain, err)
		}
	}
	return nil
}

// close stops the proxies, the servers and Toxiproxy; it may be called
// again.
func (s *shard) close() error {
	var errs []error
	for _, p := range s.pairs {
		switch {
		case p.relay != nil:
			errs = append(errs, p.relay.Close())
		case p.toxi != nil:
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			errs = append(errs, p.toxi.Delete(dctx))
			cancel()
		}
		errs = append(errs, p.srv.Close())
	}
	s.pairs = nil
	if s.toxi != nil {
		errs = append(errs, s.toxi.Close())
		s.toxi = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stress: shard %d: teardown: %w", s.cfg.Chain, err)
	}
	return nil
}

// onServer forwards the servers' message events, with what the
// coordinator reads of them: the client and the sequence number. It runs
// on the server's event path and must not block.
func (s *shard) onServer(ev fakeserver.Event) {
	if ev.Kind != result.KindRecv && ev.Kind != result.KindSend {
		return
	}
	if _, ok := clientIndex(ev.ClientID); !ok {
		return
	}
	s.lw.sendMessage(ev.Time, result.SourceServer, ev.Kind, ev.ClientID, ev.Seq)
}

// commands obeys the coordinator until stop, the end of input or ctx.
// Steps run one at a time, in the order sent.
func (s *shard) commands(ctx context.Context, sc *bufio.Scanner) {
	lines := make(chan []byte)
	stopRead := make(chan struct{})
	defer close(stopRead)
	s.reader.Go(func() {
		defer close(lines)
		for sc.Scan() {
			var c shardCommand
			ok := decodeStrict(sc.Bytes(), &c) == nil
			if ok && c.Cmd == cmdNow {
				select {
				case s.hurry <- struct{}{}:
				default:
				}
				continue
			}
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-stopRead:
				return
			}
			if ok && c.Cmd == cmdStop {
				return // nothing is read after stop
			}
		}
	})
	for {
		var line []byte
		var ok bool
		select {
		case <-ctx.Done():
			return
		case line, ok = <-lines:
			if !ok {
				return
			}
		}
		var c shardCommand
		err := decodeStrict(line, &c)
		switch {
		case err != nil:
		case c.Cmd == cmdStop:
			return
		case c.Cmd == cmdDrain:
			for _, p := range s.pairs {
				p.srv.SetPush(0)
			}
			continue
		case c.Cmd == cmdFault && c.Planned != nil && (c.Step == stepStart || c.Step == stepStop):
			s.lw.send(wire{Type: wireStep, T: time.Now().UnixNano(), Chain: s.cfg.Chain, Step: ptrTo(s.apply(ctx, c))})
			continue
		default:
			err = fmt.Errorf("unknown command %q (want fault with a step and a plan, drain or stop)", c.Cmd)
		}
		s.lw.send(wire{Type: wireError, T: time.Now().UnixNano(), Message: fmt.Sprintf("stress: shard %d: bad command: %v", s.cfg.Chain, err)})
	}
}

// apply waits until the command's time and applies its step to every pair
// at once.
func (s *shard) apply(ctx context.Context, c shardCommand) stepReport {
	rep := stepReport{Fault: c.Fault, Step: c.Step}
	f, err := c.Planned.Fault()
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	s.sleepUntil(ctx, time.Unix(0, c.AtNS))
	// A step must finish even when ctx ended, so no fault outlives the run.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stepTimeout)
	defer cancel()
	rep.BeganNS = time.Now().UnixNano()
	errs := make([]error, len(s.pairs))
	var wg sync.WaitGroup
	for i, p := range s.pairs {
		wg.Go(func() { errs[i] = p.step(sctx, *c.Planned, f, c.Step == stepStart) })
	}
	wg.Wait()
	rep.DoneNS = time.Now().UnixNano()
	if err := errors.Join(errs...); err != nil {
		rep.Error = err.Error()
	}
	return rep
}

// sleepUntil waits for t, the end of ctx or a hurry. A timer's wake-up
// puts the goroutine at the front of the run queue, however busy the
// shard.
func (s *shard) sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-s.hurry:
	}
}

// stepTimeout bounds one fault step in a shard.
const stepTimeout = 60 * time.Second

// loopbackAddr is a random address in 127.0.0.0/8 on Linux, where the
// whole block is local, and 127.0.0.1 elsewhere. A proxy or server that
// gives its port back during a fault binds it again afterwards; on the
// address every client connection's own end uses (127.0.0.1, thousands
// of ephemeral ports) that port could be taken meanwhile.
func loopbackAddr() string {
	if runtime.GOOS != "linux" {
		return "127.0.0.1"
	}
	return fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
}

// runID names one run's Toxiproxy proxies.
func runID() string { return fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()) }
