package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// key names one reported metric of one benchmark, without the -GOMAXPROCS
// suffix: {"RoundTrip/TCP", "proxied/direct"}.
type key struct{ bench, unit string }

// samples holds every value reported for each key, one per run.
type samples map[key][]float64

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads "go test -bench" output: every "value unit" pair of every
// benchmark line.
func parse(out []byte) samples {
	s := samples{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			k := key{m[1], f[i+1]}
			s[k] = append(s[k], v)
		}
	}
	return s
}

// stat is the median of a key's values and their range.
type stat struct {
	median, lo, hi float64
	n              int
}

func (s samples) stat(bench, unit string) (stat, bool) {
	v := slices.Clone(s[key{bench, unit}])
	if len(v) == 0 {
		return stat{}, false
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{median: med, lo: v[0], hi: v[len(v)-1], n: len(v)}, true
}

// row is one line of the table: a label and how to show one metric.
type row struct {
	label, bench, unit string
	scale              float64 // multiplies the value before printing
	format             string  // Printf verb for one value, e.g. "%.2fx"
}

var rows = []row{
	{"round trip, TCP echo: embedded Toxiproxy / direct loopback", "RoundTrip/TCP", "proxied/direct", 1, "%.2fx"},
	{"  direct", "RoundTrip/TCP", "direct-ns/rt", 1e-3, "%.1f µs"},
	{"  through Toxiproxy", "RoundTrip/TCP", "proxied-ns/rt", 1e-3, "%.1f µs"},
	{"round trip, WebSocket echo: embedded Toxiproxy / direct loopback", "RoundTrip/WebSocket", "proxied/direct", 1, "%.2fx"},
	{"  direct", "RoundTrip/WebSocket", "direct-ns/rt", 1e-3, "%.1f µs"},
	{"  through Toxiproxy", "RoundTrip/WebSocket", "proxied-ns/rt", 1e-3, "%.1f µs"},
	{"measurement error, detection (mean |measured - truth|)", "MeasurementError", "detect-err-ms", 1, "%.2f ms"},
	{"measurement error, recovery (mean |measured - truth|)", "MeasurementError", "recover-err-ms", 1, "%.2f ms"},
	{"measurement error, largest", "MeasurementError", "max-err-ms", 1, "%.2f ms"},
	{"  longest machine stall meanwhile (timer probe)", "MeasurementError", "stall-ms", 1, "%.1f ms"},
	{"stress chain per connection (proxy + fake server, heap + stack): relay / Toxiproxy", "ChainFootprint", "relay/toxiproxy", 1, "%.2fx"},
	{"  as it was: Toxiproxy + fake server, heap", "ChainFootprint", "toxiproxy-heap-B/conn", 1.0 / 1024, "%.1f KiB"},
	{"  as it was: Toxiproxy + fake server, stack", "ChainFootprint", "toxiproxy-stack-B/conn", 1.0 / 1024, "%.1f KiB"},
	{"  as it is: relay + fake server, heap", "ChainFootprint", "relay-heap-B/conn", 1.0 / 1024, "%.1f KiB"},
	{"  as it is: relay + fake server, stack", "ChainFootprint", "relay-stack-B/conn", 1.0 / 1024, "%.1f KiB"},
	{"machine limit / stress chain: bare WebSocket handshakes / clients ready again per second", "HandshakeLimit", "bare/herd", 1, "%.2fx"},
	{"  bare WebSocket dial loop, no chain (32 dialers, 1,000 dials)", "HandshakeLimit", "bare-hs/s", 1, "%.0f/s"},
	{"  stress chain herd (1,000 clients cut at once, relay + fake server)", "HandshakeLimit", "herd-ready/s", 1, "%.0f/s"},
	{"stress chain, relay to fake server in memory / over loopback TCP: chain CPU per reconnect", "HandshakeLimit", "memnet/tcp-cpu", 1, "%.2fx"},
	{"  in memory, as it is", "HandshakeLimit", "chain-cpu-us/reconnect", 1, "%.0f µs"},
	{"  over loopback TCP, as it was", "HandshakeLimit", "chain-tcp-cpu-us/reconnect", 1, "%.0f µs"},
	{"stress chain, relay to fake server in memory / over loopback TCP: clients ready again per second", "HandshakeLimit", "memnet/tcp-rate", 1, "%.2fx"},
	{"  over loopback TCP, as it was", "HandshakeLimit", "herd-tcp-ready/s", 1, "%.0f/s"},
	{"stress wire, one message event line: encoding/json / the fast path, encoding", "MessageLine", "encode-json/fast", 1, "%.1fx"},
	{"  decoding (encoding/json strict: a Decoder with DisallowUnknownFields)", "MessageLine", "decode-json/fast", 1, "%.1fx"},
	{"mass recovery: clients back per second (200 clients, one herd)", "MassRecovery", "clients/s", 1, "%.0f/s"},
	{"  herd: first redial to last client ready", "MassRecovery", "herd-ms", 1, "%.0f ms"},
	{"  slowest recovery after the network returned", "MassRecovery", "recover-max-ms", 1, "%.0f ms"},
}

// pairRow is a line of the table that divides one benchmark's metric by
// another's, run by run: sub-benchmarks such as "segment" and "direct" of
// one benchmark report separately, in the same run.
type pairRow struct {
	label, num, den, unit string
	// then are rows printed after this one: the figures it divides.
	then []row
}

var pairRows = []pairRow{
	{"round trip, TCP echo: packet segment (Dial) / direct loopback", "SegmentRoundTrip/segment", "SegmentRoundTrip/direct", "ns/op", nil},
	{"round trip, TCP echo: packet segment (entry relay) / direct loopback", "SegmentRoundTrip/entry", "SegmentRoundTrip/direct", "ns/op", []row{
		{"  direct", "SegmentRoundTrip/direct", "ns/op", 1e-3, "%.1f µs"},
		{"  through the segment (Dial)", "SegmentRoundTrip/segment", "ns/op", 1e-3, "%.1f µs"},
		{"  through the segment (entry relay)", "SegmentRoundTrip/entry", "ns/op", 1e-3, "%.1f µs"},
	}},
	{"throughput, 1 MiB writes: packet segment (Dial) / direct loopback", "SegmentThroughput/segment", "SegmentThroughput/direct", "MB/s", nil},
	{"throughput, 1 MiB writes: packet segment (entry relay) / direct loopback", "SegmentThroughput/entry", "SegmentThroughput/direct", "MB/s", []row{
		{"  direct", "SegmentThroughput/direct", "MB/s", 1, "%.0f MB/s"},
		{"  through the segment (Dial)", "SegmentThroughput/segment", "MB/s", 1, "%.0f MB/s"},
		{"  through the segment (entry relay)", "SegmentThroughput/entry", "MB/s", 1, "%.0f MB/s"},
	}},
}

// pairStat is the median and range of num/den over the runs both have,
// paired in the order they ran.
func (s samples) pairStat(r pairRow) (stat, bool) {
	num, den := s[key{r.num, r.unit}], s[key{r.den, r.unit}]
	n := min(len(num), len(den))
	if n == 0 {
		return stat{}, false
	}
	q := samples{}
	for i := range n {
		if den[i] != 0 {
			q[key{}] = append(q[key{}], num[i]/den[i])
		}
	}
	return q.stat("", "")
}

// footprint lists the components BenchmarkFootprint and
// BenchmarkSegmentFootprint measure, in order; chain marks the parts of
// the harness chain every connection goes through.
var footprint = []struct {
	bench, label string
	chain        bool
}{
	{"Footprint/Client", "reference client", false},
	{"Footprint/FakeServer", "fake server", true},
	{"Footprint/Toxiproxy", "Toxiproxy proxy", true},
	{"Footprint/Tap", "wire tap", true},
	{"SegmentFootprint/segment", "packet segment (Dial)", false},
	{"SegmentFootprint/entry", "packet segment (entry relay)", false},
}

func report(w io.Writer, s samples) {
	runs := 0
	for _, v := range s {
		runs = max(runs, len(v))
	}
	fmt.Fprintf(w, "Performance figures: median of %d runs [min – max]\n\n", runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	shown := map[key]bool{}
	line := func(label string, st stat, f func(float64) string) {
		fmt.Fprintf(tw, "%s\t%s\t[%s – %s]\n", label, f(st.median), f(st.lo), f(st.hi))
	}
	single := func(rs []row) {
		for _, r := range rs {
			if st, ok := s.stat(r.bench, r.unit); ok {
				shown[key{r.bench, r.unit}] = true
				line(r.label, st, func(v float64) string { return fmt.Sprintf(r.format, v*r.scale) })
			}
		}
	}
	single(rows)
	for _, r := range pairRows {
		if st, ok := s.pairStat(r); ok {
			shown[key{r.num, r.unit}], shown[key{r.den, r.unit}] = true, true
			line(r.label, st, func(v float64) string { return fmt.Sprintf("%.3gx", v) })
			single(r.then)
		}
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "per connection\theap\tstack\tgoroutines\tfile descriptors\n")
	var client, chain float64
	parts, chainParts := 0, 0
	for _, c := range footprint {
		if c.chain {
			chainParts++
		}
		heap, ok := s.stat(c.bench, "heap-B/conn")
		if !ok {
			continue
		}
		stack, _ := s.stat(c.bench, "stack-B/conn")
		gor, _ := s.stat(c.bench, "goroutines/conn")
		fds, _ := s.stat(c.bench, "fds/conn")
		for _, u := range []string{"heap-B/conn", "stack-B/conn", "goroutines/conn", "fds/conn"} {
			shown[key{c.bench, u}] = true
		}
		fmt.Fprintf(tw, "%s\t%.1f KiB\t%.1f KiB\t%.1f\t%.1f\n", c.label, heap.median/1024, stack.median/1024, gor.median, fds.median)
		switch {
		case c.bench == "Footprint/Client":
			client = heap.median + stack.median
		case c.chain:
			chain += heap.median + stack.median
			parts++
		}
	}
	tw.Flush()
	if client > 0 && parts == chainParts {
		fmt.Fprintf(w, "harness chain (fake server + Toxiproxy + tap) / reference client, heap + stack per connection: %.1fx\n", chain/client)
	}

	// Anything else the benchmarks reported, so a new metric is not lost.
	var rest []key
	for k := range s {
		if !shown[k] && !strings.HasSuffix(k.unit, "/op") {
			rest = append(rest, k)
		}
	}
	if len(rest) == 0 {
		return
	}
	slices.SortFunc(rest, func(a, b key) int { return strings.Compare(a.bench+" "+a.unit, b.bench+" "+b.unit) })
	fmt.Fprintln(w, "\nother metrics")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range rest {
		st, _ := s.stat(k.bench, k.unit)
		fmt.Fprintf(tw, "%s\t%s\t%.4g\t[%.4g – %.4g]\n", k.bench, k.unit, st.median, st.lo, st.hi)
	}
	tw.Flush()
}
