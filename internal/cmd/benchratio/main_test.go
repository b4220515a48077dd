package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/wschaos/wschaos/internal/bench
BenchmarkRoundTrip/TCP-2         	   10000	    104870 ns/op	     30000 direct-ns/rt	     72000 proxied-ns/rt	         2.4 proxied/direct	     238 B/op	       4 allocs/op
BenchmarkRoundTrip/TCP-2         	   10000	    104870 ns/op	     32000 direct-ns/rt	     70000 proxied-ns/rt	         2.2 proxied/direct	     238 B/op	       4 allocs/op
BenchmarkRoundTrip/TCP-2         	   10000	    104870 ns/op	     31000 direct-ns/rt	     71000 proxied-ns/rt	         2.3 proxied/direct	     238 B/op	       4 allocs/op
BenchmarkFootprint/Client-2      	       4	 260507699 ns/op	         1.000 fds/conn	         3.000 goroutines/conn	     15182 heap-B/conn	     19620 stack-B/conn
BenchmarkFootprint/Toxiproxy-2   	       2	 526759944 ns/op	         2.015 fds/conn	         6.010 goroutines/conn	    136848 heap-B/conn	     17449 stack-B/conn
BenchmarkNew-2                   	       1	 1 ns/op	         7 widgets
PASS
ok  	github.com/wschaos/wschaos/internal/bench	7.522s
`

func TestParse(t *testing.T) {
	s := parse([]byte(sample))
	assert.Equal(t, []float64{2.4, 2.2, 2.3}, s[key{"RoundTrip/TCP", "proxied/direct"}])
	st, ok := s.stat("RoundTrip/TCP", "proxied/direct")
	require.True(t, ok)
	assert.Equal(t, stat{median: 2.3, lo: 2.2, hi: 2.4, n: 3}, st)
	assert.Equal(t, []float64{6.010}, s[key{"Footprint/Toxiproxy", "goroutines/conn"}])
	_, ok = s.stat("RoundTrip/WebSocket", "proxied/direct")
	assert.False(t, ok, "a benchmark that did not run has no figure")
}

func TestMedianOfEven(t *testing.T) {
	s := samples{key{"B", "u"}: {4, 1, 3, 2}}
	st, _ := s.stat("B", "u")
	assert.Equal(t, 2.5, st.median)
}

func TestReport(t *testing.T) {
	var out bytes.Buffer
	report(&out, parse([]byte(sample)))
	got := out.String()
	assert.Contains(t, got, "median of 3 runs")
	assert.Regexp(t, `round trip, TCP echo: embedded Toxiproxy / direct loopback\s+2\.30x\s+\[2\.20x – 2\.40x\]`, got)
	assert.Contains(t, got, "31.0 µs")
	assert.Regexp(t, `Toxiproxy proxy\s+133\.6 KiB\s+17\.0 KiB\s+6\.0\s+2\.0`, got)
	assert.Contains(t, got, "New  widgets", "an unknown metric is still shown")
	assert.NotContains(t, got, "WebSocket", "no row for a benchmark that did not run")
	assert.NotContains(t, got, "harness chain", "no chain total without every component")
}

func TestRunFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.txt")
	require.NoError(t, os.WriteFile(path, []byte(sample), 0o600))
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run([]string{"-in", path}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "2.30x")

	require.NoError(t, os.WriteFile(path, []byte("PASS\n"), 0o600))
	out.Reset()
	errOut.Reset()
	assert.Equal(t, 1, run([]string{"-in", path}, &out, &errOut))
	assert.True(t, strings.Contains(errOut.String(), "no benchmark results"), errOut.String())

	assert.Equal(t, 2, run([]string{"extra"}, &out, &errOut))
}

const segmentSample = `pkg: github.com/wschaos/wschaos/internal/chaosnet/segment
BenchmarkSegmentRoundTrip/direct-2         	   58950	     20000 ns/op	       0 B/op	       0 allocs/op
BenchmarkSegmentRoundTrip/direct-2         	   60843	     10000 ns/op	       0 B/op	       0 allocs/op
BenchmarkSegmentRoundTrip/segment-2        	   21560	     60000 ns/op	     961 B/op	      17 allocs/op
BenchmarkSegmentRoundTrip/segment-2        	   17953	     40000 ns/op	     950 B/op	      17 allocs/op
BenchmarkSegmentThroughput/direct-2        	    2450	    444939 ns/op	2000.00 MB/s	      28 B/op	       1 allocs/op
BenchmarkSegmentThroughput/segment-2       	     204	   6265059 ns/op	 100.00 MB/s	  110068 B/op	    1631 allocs/op
BenchmarkSegmentFootprint/segment-2        	      15	  73803649 ns/op	         2.000 fds/conn	         2.000 goroutines/conn	     77678 heap-B/conn	      9841 stack-B/conn
`

func TestReportPairs(t *testing.T) {
	var out bytes.Buffer
	report(&out, parse([]byte(segmentSample)))
	got := out.String()
	// Paired run by run: 60000/20000 and 40000/10000, median 3.5.
	assert.Regexp(t, `round trip, TCP echo: packet segment \(Dial\) / direct loopback\s+3\.5x\s+\[3x – 4x\]`, got)
	assert.Regexp(t, `throughput, 1 MiB writes: packet segment \(Dial\) / direct loopback\s+0\.05x`, got)
	assert.NotContains(t, got, "entry relay) / direct", "no row for a benchmark that did not run")
	assert.Regexp(t, `packet segment \(Dial\)\s+75\.9 KiB\s+9\.6 KiB\s+2\.0\s+2\.0`, got)
	assert.NotContains(t, got, "MB/s", "paired metrics are not repeated as other metrics")
	assert.NotContains(t, got, "harness chain", "the segment is not part of the chain total")
}

// The segment's sub-benchmarks report separately; their ratio is taken run
// by run, and the round trips it divides follow it.
func TestReportSegmentRows(t *testing.T) {
	const seg = `BenchmarkSegmentRoundTrip/direct-2   	 100	 20000 ns/op
BenchmarkSegmentRoundTrip/segment-2  	 100	 60000 ns/op
BenchmarkSegmentRoundTrip/entry-2    	 100	 80000 ns/op
BenchmarkSegmentRoundTrip/direct-2   	 100	 10000 ns/op
BenchmarkSegmentRoundTrip/segment-2  	 100	 50000 ns/op
BenchmarkSegmentRoundTrip/entry-2    	 100	 60000 ns/op
`
	var out bytes.Buffer
	report(&out, parse([]byte(seg)))
	got := out.String()
	assert.Regexp(t, `packet segment \(Dial\) / direct loopback\s+4x\s+\[3x – 5x\]`, got, "ratios of each run: 3x and 5x, median of two their mean")
	assert.Regexp(t, `packet segment \(entry relay\) / direct loopback\s+5x\s+\[4x – 6x\]\n\s+direct\s+15\.0 µs[^\n]*\n\s+through the segment \(Dial\)\s+55\.0 µs[^\n]*\n\s+through the segment \(entry relay\)\s+70\.0 µs`, got)
	assert.NotContains(t, got, "throughput", "no row for a benchmark that did not run")
}
