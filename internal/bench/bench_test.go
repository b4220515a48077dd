package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/echotest"
	"github.com/wschaos/wschaos/internal/fdlimit"
	"github.com/wschaos/wschaos/internal/leaktest"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(peerEnv); role != "" {
		os.Exit(runPeer(role))
	}
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

// apiTimeout bounds one Toxiproxy call or dial.
const apiTimeout = 10 * time.Second

func apiCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	tb.Cleanup(cancel)
	return ctx
}

var proxySeq atomic.Uint64

// newProxy starts an embedded Toxiproxy with one proxy to upstream; stop
// closes both.
func newProxy(tb testing.TB, upstream string) (p *chaosnet.Proxy, stop func()) {
	tb.Helper()
	tp, err := chaosnet.StartToxiproxy(apiCtx(tb), "")
	if err != nil {
		tb.Fatal(err)
	}
	stop = func() {
		if err := tp.Close(); err != nil {
			tb.Errorf("close toxiproxy: %v", err)
		}
	}
	p, err = tp.NewProxy(apiCtx(tb), fmt.Sprintf("bench-%d", proxySeq.Add(1)), upstream)
	if err != nil {
		stop()
		tb.Fatal(err)
	}
	return p, stop
}

// roundTrips times n round trips on each of two paths, interleaved so that
// both see the same machine, and reports each path's mean and their ratio.
func roundTrips(b *testing.B, direct, proxied func() error) {
	var dt, pt time.Duration
	n := 0
	for b.Loop() {
		first, second, fd, sd := direct, proxied, &dt, &pt
		if n%2 == 1 { // alternate the order so neither path always runs warm
			first, second, fd, sd = proxied, direct, &pt, &dt
		}
		t0 := time.Now()
		if err := first(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := second(); err != nil {
			b.Fatal(err)
		}
		*fd += t1.Sub(t0)
		*sd += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(dt.Nanoseconds())/float64(n), "direct-ns/rt")
	b.ReportMetric(float64(pt.Nanoseconds())/float64(n), "proxied-ns/rt")
	b.ReportMetric(float64(pt)/float64(dt), "proxied/direct")
}

// BenchmarkRoundTrip: one 64-byte round trip through the embedded Toxiproxy
// proxy (no toxics) against the same round trip straight to the server.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("TCP", func(b *testing.B) {
		addr := echotest.TCP(b)
		proxy, stop := newProxy(b, addr)
		b.Cleanup(stop)
		dial := func(a string) func() error {
			c, err := net.Dial("tcp", a)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = c.Close() })
			out, in := make([]byte, 64), make([]byte, 64)
			return func() error {
				if _, err := c.Write(out); err != nil {
					return err
				}
				_, err := io.ReadFull(c, in)
				return err
			}
		}
		roundTrips(b, dial(addr), dial(proxy.Addr()))
	})
	b.Run("WebSocket", func(b *testing.B) {
		srv, err := fakeserver.New(fakeserver.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Close() })
		proxy, stop := newProxy(b, srv.Addr())
		b.Cleanup(stop)
		dial := func(a string) func() error {
			ws, _, err := websocket.Dial(apiCtx(b), "ws://"+a+"/ws", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = ws.CloseNow() })
			// Not an envelope: the fake server echoes it unchanged.
			msg := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
			ctx := context.Background()
			return func() error {
				if err := ws.Write(ctx, websocket.MessageText, msg); err != nil {
					return err
				}
				_, got, err := ws.Read(ctx)
				if err == nil && len(got) != len(msg) {
					err = fmt.Errorf("echo of %d bytes, want %d", len(got), len(msg))
				}
				return err
			}
		}
		roundTrips(b, dial(srv.Addr()), dial(proxy.Addr()))
	})
}

// footprintConns is how many connections each footprint measurement makes.
const footprintConns = 200

// usage is what the process holds at one moment, after a full collection.
type usage struct {
	heap, stack uint64
	goroutines  int
	fds         int
}

func measure() usage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if n, ok := fdlimit.Open(); ok {
		fds = n
	}
	return usage{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine(), fds: fds}
}

// footprint reports per-connection deltas: setup builds the component and
// returns connect, which makes footprintConns connections through it and
// returns when all are up, and stop, which tears everything down. The figures
// are the process's growth across connect, averaged over the iterations.
func footprint(b *testing.B, setup func(b *testing.B) (connect func() error, stop func())) {
	var heap, stack, gor, fds float64
	n := 0
	for b.Loop() {
		connect, stop := setup(b)
		before := measure()
		err := connect()
		after := measure()
		stop()
		if err != nil {
			b.Fatal(err)
		}
		k := float64(footprintConns)
		heap += (float64(after.heap) - float64(before.heap)) / k
		stack += (float64(after.stack) - float64(before.stack)) / k
		gor += float64(after.goroutines-before.goroutines) / k
		fds += float64(after.fds-before.fds) / k
		n++
	}
	fn := float64(n)
	b.ReportMetric(heap/fn, "heap-B/conn")
	b.ReportMetric(stack/fn, "stack-B/conn")
	b.ReportMetric(gor/fn, "goroutines/conn")
	b.ReportMetric(fds/fn, "fds/conn")
}

// clientsVia connects footprintConns reference clients in a peer process to
// the server at addr.
func clientsVia(b *testing.B, addr string) (*peer, error) {
	return startPeer(b, "clients", peerURL+"=ws://"+addr+"/ws", fmt.Sprintf("%s=%d", peerN, footprintConns))
}

// BenchmarkFootprint: what one connection costs each component, with the
// other ends in a peer process. Clients use the production default timings.
func BenchmarkFootprint(b *testing.B) {
	b.Run("Client", func(b *testing.B) {
		footprint(b, func(b *testing.B) (func() error, func()) {
			srv, err := startPeer(b, "server")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			connect := func() error {
				h := connectClients(ctx, "ws://"+srv.line+"/ws", footprintConns)
				for _, c := range h.clients {
					wg.Go(func() { _ = c.Run(ctx) })
				}
				return h.wait(peerWait)
			}
			return connect, func() { cancel(); wg.Wait(); srv.stop() }
		})
	})
	b.Run("FakeServer", func(b *testing.B) {
		footprint(b, func(b *testing.B) (func() error, func()) {
			srv, err := fakeserver.New(fakeserver.Options{})
			if err != nil {
				b.Fatal(err)
			}
			var clients *peer
			connect := func() (err error) { clients, err = clientsVia(b, srv.Addr()); return err }
			return connect, func() { clients.stopIfStarted(); _ = srv.Close() }
		})
	})
	b.Run("Toxiproxy", func(b *testing.B) {
		footprint(b, func(b *testing.B) (func() error, func()) {
			srv, err := startPeer(b, "server")
			if err != nil {
				b.Fatal(err)
			}
			proxy, stopProxy := newProxy(b, srv.line)
			var clients *peer
			connect := func() (err error) { clients, err = clientsVia(b, proxy.Addr()); return err }
			return connect, func() { clients.stopIfStarted(); stopProxy(); srv.stop() }
		})
	})
	b.Run("Tap", func(b *testing.B) {
		footprint(b, func(b *testing.B) (func() error, func()) {
			srv, err := startPeer(b, "server")
			if err != nil {
				b.Fatal(err)
			}
			tap, err := chaosnet.NewTap(srv.line, nil)
			if err != nil {
				b.Fatal(err)
			}
			var clients *peer
			connect := func() (err error) { clients, err = clientsVia(b, tap.Addr()); return err }
			return connect, func() { clients.stopIfStarted(); _ = tap.Close(); srv.stop() }
		})
	})
}
