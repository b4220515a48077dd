package chaosnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/wschaos/wschaos/internal/fdlimit"
)

// WatchOptions configure the accept-loop watchdog that a [Toxiproxy] runs
// for each proxy it creates. The zero value means the defaults.
//
// Toxiproxy v2.12.0's proxy accept loop (proxy.go, Proxy.server) returns
// on the first error Accept gives, EMFILE included, and leaves its listener
// open and the proxy enabled: dials still complete into the kernel's queue
// and are never accepted, and the API still says enabled. Only disabling
// and enabling the proxy starts a new loop. So every Interval the watchdog
// dials the proxy and, on Linux, asks the kernel's socket diagnostics
// whether the probe was accepted and, if not within Stall, whether any
// connection that waited in the queue when the probe began has left it: a
// loop that takes nothing off its queue for Stall, in two probes in a row,
// is dead, however full the queue. Elsewhere it sees only a dial refused,
// or one that times out on a full queue (three in a row count). A
// dead proxy that the API reports enabled is restored with disable and
// enable, through the API, so an external toxiproxy-server on this machine
// is watched the same way. Restoring closes the proxy's connections with a
// FIN, as Disable does. A proxy disabled through [Proxy.Disable], or by
// anyone through the API, is left alone. An external server whose API is
// not on loopback is not watched: its proxies' addresses are the other
// host's, and a probe from here would reach this host's loopback.
type WatchOptions struct {
	// Interval is how often each proxy is probed. Default 1s. Negative turns
	// the watchdog off.
	Interval time.Duration
	// Stall is how long a probe may wait in the proxy's accept queue while
	// nothing is accepted, or wait for its dial, before the accept loop
	// counts as dead. Default 2s: a live loop accepts hundreds of
	// connections a second even on a busy machine.
	Stall time.Duration
	// OnRestore, if not nil, is called after each restore with the proxy's
	// name and the restore's error (nil when the proxy accepts again). It
	// runs on the watchdog's goroutine and must not block or call the
	// Toxiproxy.
	OnRestore func(proxy string, err error)
}

// Watchdog defaults; see WatchOptions.
const (
	defaultWatchInterval = time.Second
	defaultWatchStall    = 2 * time.Second
	// probePoll is how often a waiting probe asks the kernel again.
	probePoll = 10 * time.Millisecond
)

func (o *WatchOptions) setDefaults() {
	if o.Interval == 0 {
		o.Interval = defaultWatchInterval
	}
	if o.Stall <= 0 {
		o.Stall = defaultWatchStall
	}
}

// probeResult is what one probe found.
type probeResult int

const (
	probeAlive   probeResult = iota
	probeUnknown             // could not tell (no descriptor to dial with, no sock_diag, cancelled)
	probeDead                // listening, not accepting
	probeRefused             // not listening
	probeFull                // the dial timed out: the accept queue is full
)

// Probes in a row that must agree before a restore, which closes every
// connection through the proxy: two that found the loop dead (a loop
// starved of CPU for one Stall is not dead), or, where the kernel cannot
// show the queue (not Linux), three whose dial timed out on a full queue,
// which a live loop under a flood of dials keeps full too.
const (
	deadProbes = 2
	fullProbes = 3
)

// countIf returns n+1 if cond, else 0: a count of conditions in a row.
func countIf(cond bool, n int) int {
	if cond {
		return n + 1
	}
	return 0
}

// startWatch starts p's watchdog goroutine, which runs until stopWatch or
// the Toxiproxy's Close.
func (p *Proxy) startWatch() {
	t := p.t
	ctx, cancel := context.WithCancel(t.watchCtx)
	p.watchStop = cancel
	p.watchDone = make(chan struct{})
	t.watchWG.Add(1)
	go func() {
		defer t.watchWG.Done()
		defer close(p.watchDone)
		p.watch(ctx)
	}()
}

// stopWatch stops p's watchdog and waits for it. It does nothing if none
// runs.
func (p *Proxy) stopWatch() {
	if p.watchStop == nil {
		return
	}
	p.watchStop()
	<-p.watchDone
}

func (p *Proxy) watch(ctx context.Context) {
	opts := p.t.watch
	ticker := time.NewTicker(opts.Interval)
	defer ticker.Stop()
	var dead, full int // probes in a row that found the loop dead, the queue full
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		r := probeUnknown
		if p.wantEnabled.Load() {
			r = p.probe(ctx, opts.Stall)
		}
		dead, full = countIf(r == probeDead, dead), countIf(r == probeFull, full)
		if r == probeRefused || dead == deadProbes || full == fullProbes {
			dead, full = 0, 0
			p.restore(ctx)
		}
	}
}

// probe dials the proxy and reports whether its accept loop is alive: it
// accepts the probe within Stall, or, on Linux, takes off its queue any of
// the connections that waited there when the probe began. A queue whose
// members all stay put for Stall has no loop behind it, however full it is:
// the loop takes the oldest first.
func (p *Proxy) probe(ctx context.Context, stall time.Duration) probeResult {
	listen, err := netip.ParseAddrPort(p.addr)
	if err != nil {
		return probeUnknown
	}
	before, snapshot := diagQueued(listen)
	d := net.Dialer{Timeout: stall}
	c, err := d.DialContext(ctx, "tcp", p.addr)
	switch {
	case err == nil:
		tc := c.(*net.TCPConn)
		_ = tc.SetLinger(0) // a reset: no TIME_WAIT for every probe
		defer tc.Close()
		if r := awaitAccept(ctx, tc, stall); r != probeDead {
			return r
		}
	case ctx.Err() != nil, fdlimit.Exhausted(err):
		return probeUnknown
	case errors.Is(err, syscall.ECONNREFUSED):
		return probeRefused
	case isTimeout(err): // the queue is full: the SYN went unanswered
		if !snapshot {
			return probeFull
		}
	default:
		return probeUnknown
	}
	after, ok := diagQueued(listen)
	if !ok || !snapshot {
		return probeUnknown
	}
	for remote := range before {
		if !after[remote] {
			return probeAlive // accepted (or gone) since the probe began
		}
	}
	return probeDead
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// awaitAccept waits up to stall for the proxy to accept c: probeAlive if it
// does, probeDead if not, probeUnknown if the kernel cannot say.
func awaitAccept(ctx context.Context, c *net.TCPConn, stall time.Duration) probeResult {
	local, err1 := netip.ParseAddrPort(c.LocalAddr().String())
	remote, err2 := netip.ParseAddrPort(c.RemoteAddr().String())
	if err1 != nil || err2 != nil {
		return probeUnknown
	}
	deadline := time.Now().Add(stall)
	for {
		accepted, ok := diagAccepted(local, remote)
		switch {
		case !ok:
			return probeUnknown
		case accepted:
			return probeAlive
		case time.Now().After(deadline):
			return probeDead
		}
		select {
		case <-ctx.Done():
			return probeUnknown
		case <-time.After(probePoll):
		}
	}
}

// restore disables and enables a proxy whose accept loop the probe found
// dead or not listening, unless the API says it was disabled by someone
// else. A restore whose enable failed (the port taken, no descriptor to
// listen with) is tried again on the next probe.
func (p *Proxy) restore(ctx context.Context) {
	var enabled bool
	err := p.call(ctx, func() error {
		cp, err := p.t.client.Proxy(p.name)
		if err == nil {
			enabled = cp.Enabled
		}
		return err
	})
	if err != nil || (!enabled && !p.watchDisabled.Load()) {
		return
	}
	err = p.call(ctx, func() error {
		if enabled {
			if err := p.cp.Disable(); err != nil {
				return err
			}
			p.watchDisabled.Store(true)
		}
		if err := p.cp.Enable(); err != nil {
			return err
		}
		p.watchDisabled.Store(false)
		return nil
	})
	if err != nil {
		err = fmt.Errorf("chaosnet: restore proxy %q: %w", p.name, err)
	}
	if f := p.t.watch.OnRestore; f != nil && ctx.Err() == nil {
		f(p.name, err)
	}
}
