package segment

import (
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/internal/fdlimit"
)

// The benchmarks measure the segment against the same work straight over
// kernel loopback, in one run, as sub-benchmarks "direct" and "segment"
// (and "entry", through the entry relay): `make bench` prints
// segment/direct from their medians (internal/cmd/benchratio).

// BenchmarkSegmentRoundTrip: one 64-byte echo round trip.
func BenchmarkSegmentRoundTrip(b *testing.B) {
	up := newServer(b, echo)
	s := newSegment(b, up.Addr(), Options{})
	againstDirect(b, up.Addr(), s, 0, make([]byte, 64), make([]byte, 64))
}

// againstDirect runs the sub-benchmarks direct, segment and entry: each
// iteration writes out and reads len(in) bytes back, on a connection to
// upstream, through s's Dial, and through its entry relay. bytes, if not
// 0, is the throughput an iteration counts (testing.B.SetBytes).
func againstDirect(b *testing.B, upstream string, s *Segment, bytes int64, out, in []byte) {
	run := func(b *testing.B, c net.Conn) {
		b.SetBytes(bytes)
		for b.Loop() {
			if _, err := c.Write(out); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, dialKernel(b, upstream)) })
	b.Run("segment", func(b *testing.B) { run(b, dialSegment(b, s)) })
	b.Run("entry", func(b *testing.B) { run(b, dialKernel(b, s.Addr())) })
}

// throughputChunk is what one iteration of BenchmarkSegmentThroughput
// sends; the far end answers one byte when it has it all.
const throughputChunk = 1 << 20

// BenchmarkSegmentThroughput: one-way bulk transfer, 1 MiB per iteration.
func BenchmarkSegmentThroughput(b *testing.B) {
	up := newServer(b, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n := 0
			for n < throughputChunk {
				k, err := c.Read(buf[:min(len(buf), throughputChunk-n)])
				n += k
				if err != nil {
					return
				}
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return
			}
		}
	})
	s := newSegment(b, up.Addr(), Options{})
	againstDirect(b, up.Addr(), s, throughputChunk, payload(throughputChunk, 12), make([]byte, 1))
}

func dialKernel(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	var d net.Dialer
	c, err := d.DialContext(timeoutCtx(tb), "tcp", addr)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// footprintConns is how many connections one footprint measurement holds.
const footprintConns = 200

// BenchmarkSegmentFootprint: what one idle connection through the segment
// costs the process, in heap, goroutine stacks, goroutines and file
// descriptors. The upstream holds the connections it accepts without a
// goroutine, so the figures are the segment's (the upstream's accepted
// socket, a few hundred bytes and one descriptor, included); for "segment"
// they include the client stack's end, which a client of Dial owns.
func BenchmarkSegmentFootprint(b *testing.B) {
	for _, path := range []string{"segment", "entry"} {
		b.Run(path, func(b *testing.B) {
			var heap, stk, gor, fds float64
			n := 0
			for b.Loop() {
				d := footprintOnce(b, path)
				heap += d.heap
				stk += d.stack
				gor += d.goroutines
				fds += d.fds
				n++
			}
			fn := float64(n)
			b.ReportMetric(heap/fn, "heap-B/conn")
			b.ReportMetric(stk/fn, "stack-B/conn")
			b.ReportMetric(gor/fn, "goroutines/conn")
			b.ReportMetric(fds/fn, "fds/conn")
		})
	}
}

type usage struct{ heap, stack, goroutines, fds float64 }

func measure() usage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if n, ok := fdlimit.Open(); ok {
		fds = n
	}
	return usage{float64(ms.HeapAlloc), float64(ms.StackInuse), float64(runtime.NumGoroutine()), float64(fds)}
}

// footprintOnce opens footprintConns connections through a new segment
// by path and returns the process's growth per connection.
func footprintOnce(b *testing.B, path string) usage {
	held := make(chan net.Conn, footprintConns)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	})
	s, err := New(ln.Addr().String(), Options{})
	require.NoError(b, err)

	before := measure()
	var conns []net.Conn
	for range footprintConns {
		var c net.Conn
		if path == "entry" {
			var d net.Dialer
			c, err = d.DialContext(timeoutCtx(b), "tcp", s.Addr())
		} else {
			c, err = s.Dial(timeoutCtx(b), "tcp", "")
		}
		require.NoError(b, err)
		conns = append(conns, c)
	}
	timeout := time.After(ioTimeout)
	var ups []net.Conn
	for len(ups) < footprintConns { // every connection relayed upstream
		select {
		case c := <-held:
			ups = append(ups, c)
		case <-timeout:
			b.Fatalf("%d of %d connections reached upstream", len(ups), footprintConns)
		}
	}
	after := measure()

	for _, c := range append(conns, ups...) {
		_ = c.Close()
	}
	require.NoError(b, s.Close())
	_ = ln.Close()
	wg.Wait()
	k := float64(footprintConns)
	return usage{
		heap:       (after.heap - before.heap) / k,
		stack:      (after.stack - before.stack) / k,
		goroutines: (after.goroutines - before.goroutines) / k,
		fds:        (after.fds - before.fds) / k,
	}
}
