package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/memnet"
	"github.com/wschaos/wschaos/internal/relay"
)

// chainKinds are the stress chain as it was (Toxiproxy in front of each
// fake server) and as it is (the relay in front of it).
var chainKinds = []string{"toxiproxy", "relay"}

// startChain starts one stress chain of kind in this process: a fake
// server behind its proxy (the relay reaching it in memory, as in a chain
// shard). It returns the address clients dial and a stop.
func startChain(b *testing.B, kind string) (addr string, stop func()) {
	b.Helper()
	opts := fakeserver.Options{}
	mem := memnet.New("footprint-server")
	if kind == "relay" {
		opts.Listen = mem.Listen // as a chain shard runs it
	}
	srv, err := fakeserver.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if kind == "relay" {
		r, err := relay.NewDial("127.0.0.1:0", srv.Addr(), mem.Dial)
		if err != nil {
			b.Fatal(err)
		}
		return r.Addr(), func() { _ = r.Close(); _ = srv.Close() }
	}
	p, stopProxy := newProxy(b, srv.Addr())
	return p.Addr(), func() { stopProxy(); _ = srv.Close() }
}

// BenchmarkChainFootprint: what one client costs the stress chain (proxy
// and fake server together, in one process) as it was, with Toxiproxy,
// against as it is, with the relay: heap and stack per connection, both
// measured in every iteration, in turn, with the clients in a peer
// process. relay/toxiproxy is the ratio of heap + stack.
func BenchmarkChainFootprint(b *testing.B) {
	sum := map[string]*[2]float64{"toxiproxy": {}, "relay": {}}
	n := 0
	for b.Loop() {
		kinds := slices.Clone(chainKinds)
		if n%2 == 1 {
			slices.Reverse(kinds)
		}
		for _, kind := range kinds {
			addr, stop := startChain(b, kind)
			before := measure()
			clients, err := clientsVia(b, addr)
			after := measure()
			clients.stopIfStarted()
			stop()
			if err != nil {
				b.Fatal(err)
			}
			sum[kind][0] += (float64(after.heap) - float64(before.heap)) / footprintConns
			sum[kind][1] += (float64(after.stack) - float64(before.stack)) / footprintConns
		}
		n++
	}
	for _, kind := range chainKinds {
		b.ReportMetric(sum[kind][0]/float64(n), kind+"-heap-B/conn")
		b.ReportMetric(sum[kind][1]/float64(n), kind+"-stack-B/conn")
	}
	t, r := sum["toxiproxy"], sum["relay"]
	b.ReportMetric((r[0]+r[1])/(t[0]+t[1]), "relay/toxiproxy")
}

// limitClients is how many clients (and bare dials) BenchmarkHandshakeLimit
// makes each time.
const limitClients = 1000

// BenchmarkHandshakeLimit: how far the harness is from what this machine
// can do, and what the in-memory hop between relay and fake server saves.
// In every iteration, in turn: a bare WebSocket dial loop (32 dialers, each
// dial a full upgrade and a close, against a plain coder/websocket server
// in a peer process) and two herds of the stress chain (limitClients
// reference clients each, here, against a relay and fake server in a peer
// process: the chain as it is, the relay reaching the server in memory, and
// as it was, over loopback TCP). Every herd connection is cut at once and
// every client, without jitter, redials 100 ms later: connect through the
// relay, upgrade, hello and welcome. It reports the rates, bare-hs/s and
// herd-ready/s (from the first redial to the last client ready), the chain
// process's CPU per reconnect, and the ratios.
func BenchmarkHandshakeLimit(b *testing.B) {
	bare, err := startPeer(b, "wsserver")
	if err != nil {
		b.Fatal(err)
	}
	defer bare.stop()
	hops := []string{"memnet", "tcp"}
	herds := map[string]*herdClients{}
	for _, hop := range hops {
		chain, err := startPeer(b, "chain", peerHop+"="+hop)
		if err != nil {
			b.Fatal(err)
		}
		defer chain.stop()
		h := startHerd(b, "ws://"+chain.line+"/ws", chain)
		defer h.stop()
		herds[hop] = h
	}
	var bareRate []float64
	herdRate := map[string][]float64{}
	cpu := map[string][]float64{}
	for i := 0; b.Loop(); i++ {
		steps := []func(){
			func() { bareRate = append(bareRate, dialLoop(b, "ws://"+bare.line+"/ws")) },
		}
		for _, hop := range hops {
			steps = append(steps, func() {
				rate, cpuPer := herds[hop].cut(b)
				herdRate[hop] = append(herdRate[hop], rate)
				if cpuPer > 0 {
					cpu[hop] = append(cpu[hop], cpuPer)
				}
			})
		}
		// Each iteration starts one step later than the one before.
		n := i % len(steps)
		steps = append(steps[n:], steps[:n]...)
		for _, step := range steps {
			step()
		}
	}
	b.ReportMetric(mean(bareRate), "bare-hs/s")
	b.ReportMetric(mean(herdRate["memnet"]), "herd-ready/s")
	b.ReportMetric(mean(herdRate["tcp"]), "herd-tcp-ready/s")
	b.ReportMetric(mean(bareRate)/mean(herdRate["memnet"]), "bare/herd")
	b.ReportMetric(mean(herdRate["memnet"])/mean(herdRate["tcp"]), "memnet/tcp-rate")
	if len(cpu["memnet"]) > 0 && len(cpu["tcp"]) > 0 {
		b.ReportMetric(mean(cpu["memnet"]), "chain-cpu-us/reconnect")
		b.ReportMetric(mean(cpu["tcp"]), "chain-tcp-cpu-us/reconnect")
		b.ReportMetric(mean(cpu["memnet"])/mean(cpu["tcp"]), "memnet/tcp-cpu")
	}
}

// dialLoop dials url limitClients times over 32 dialers, each a full
// upgrade then a close, and returns handshakes per second.
func dialLoop(b *testing.B, url string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), peerWait)
	defer cancel()
	var next sync.Mutex
	left := limitClients
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	start := time.Now()
	for range 32 {
		wg.Go(func() {
			for {
				next.Lock()
				if left == 0 {
					next.Unlock()
					return
				}
				left--
				next.Unlock()
				c, _, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					errs <- err
					return
				}
				_ = c.CloseNow()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("bare dial: %v", err)
	}
	return limitClients / took.Seconds()
}

// herd is limitClients reference clients kept connected to the chain,
// with the times of their dials and readies.
type herdClients struct {
	chain  *peer // the chain the herd dials, which cut commands
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	dials  []time.Time
	ready  []time.Time
	up     int
}

func startHerd(b *testing.B, url string, chain *peer) *herdClients {
	ctx, cancel := context.WithCancel(context.Background())
	h := &herdClients{cancel: cancel, chain: chain}
	for i := range limitClients {
		c, err := client.New(url, client.Options{
			ClientID: fmt.Sprintf("h%d", i+1), PingInterval: 10 * time.Second, PongTimeout: 5 * time.Second, HandshakeTimeout: 10 * time.Second,
			Backoff: client.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, NoJitter: true}, MinHealthyUptime: time.Second,
			OnEvent: h.onEvent,
		})
		if err != nil {
			b.Fatal(err)
		}
		h.wg.Go(func() { _ = c.Run(ctx) })
	}
	if !h.waitUp(limitClients) {
		h.stop()
		b.Fatalf("only %d of %d herd clients connected", h.up, limitClients)
	}
	return h
}

func (h *herdClients) onEvent(ev client.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch ev.Kind {
	case client.EventDialing:
		h.dials = append(h.dials, ev.Time)
	case client.EventReady:
		h.ready = append(h.ready, ev.Time)
		h.up++
	case client.EventDisconnected:
		h.up--
	}
}

func (h *herdClients) waitUp(n int) bool {
	deadline := time.Now().Add(peerWait)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		up := h.up
		h.mu.Unlock()
		if up == n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// cut has the chain drop every connection at once and returns how many
// clients per second were ready again, from the first redial to the last,
// and the chain process's CPU per reconnect in µs (0 where the system does
// not say).
func (h *herdClients) cut(b *testing.B) (rate, cpuUS float64) {
	h.mu.Lock()
	h.dials, h.ready = nil, nil
	h.mu.Unlock()
	cpu0, cpuOK := processCPU(h.chain.cmd.Process.Pid)
	if _, err := fmt.Fprintln(h.chain.stdin, "cut"); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(peerWait)
	for {
		h.mu.Lock()
		done := len(h.ready) >= limitClients
		first, last := minTime(h.dials), maxTime(h.ready)
		h.mu.Unlock()
		if done {
			if cpu1, ok := processCPU(h.chain.cmd.Process.Pid); ok && cpuOK {
				cpuUS = float64(cpu1-cpu0) / float64(time.Microsecond) / limitClients
			}
			return limitClients / last.Sub(first).Seconds(), cpuUS
		}
		if time.Now().After(deadline) {
			b.Fatalf("herd: only %d of %d clients ready again", len(h.ready), limitClients)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *herdClients) stop() {
	h.cancel()
	h.wg.Wait()
}

func minTime(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	return slices.MinFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

func maxTime(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	return slices.MaxFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

// peerChain runs a relay in front of a fake server, reaching it as
// peerHop says ("memnet", as the stress chain does, or "tcp"), prints the
// relay's address, and on every line "cut" on standard input closes every
// connection through it (disabled and at once enabled again); it stops
// when standard input closes.
func peerChain(hop string) error {
	opts := fakeserver.Options{PushInterval: 10 * time.Second}
	mem := memnet.New("bench-server")
	if hop == "memnet" {
		opts.Listen = mem.Listen
	} else if hop != "tcp" {
		return fmt.Errorf("%s=%q: want memnet or tcp", peerHop, hop)
	}
	srv, err := fakeserver.New(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	var r *relay.Relay
	if hop == "memnet" {
		r, err = relay.NewDial("127.0.0.1:0", srv.Addr(), mem.Dial)
	} else {
		r, err = relay.New("127.0.0.1:0", srv.Addr())
	}
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Println(r.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "cut" {
			return fmt.Errorf("unknown command %q", sc.Text())
		}
		ctx := context.Background()
		if err := errors.Join(r.Disable(ctx), r.Enable(ctx)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// peerWSServer serves bare WebSocket upgrades: each connection is
// accepted and read until the client goes.
func peerWSServer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, _, _ = c.Read(r.Context())
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr())
	_, _ = os.Stdin.Read(make([]byte, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}
