package reports

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

func TestStressHTMLGolden(t *testing.T) {
	page := render(t, stressResult())
	golden(t, "stress.golden.html", []byte(page))
	// The timeline draws no detect or recover budget: a stress run's
	// figures span many faults, and its targets are per fault.
	assert.NotContains(t, page, "(no target)")
	assert.NotContains(t, page, `class="budget`)
}

func TestStressFigures(t *testing.T) {
	r := stressResult()
	s := &r.Scenarios[0]
	v := buildStress(s, "s-Stress--reference")
	require.NotNil(t, v)
	assert.Equal(t, "40 clients over 2 worker processes · seed 7 · time scale 1 · schedule 40,000 ms", v.Setup)
	require.Len(t, v.Faults, 3)

	f1 := v.Faults[0]
	assert.Equal(t, "12,000 → 14,500", f1.Window)
	assert.Equal(t, "2,500", f1.Length)
	assert.Equal(t, "40 / 40", f1.Lost)
	assert.Equal(t, distCells{P50: "2", P90: "4", P99: "4", Max: "4", Target: "target: p99 ≤ 1,100 ms"}, f1.Detect)
	assert.Equal(t, distCells{P50: "1,105", P90: "1,825", P99: "2,005", Max: "2,005", Target: "target: p99 ≤ 5,000 ms"}, f1.Recover)
	assert.Equal(t, "3", f1.AttemptsMax)
	assert.Equal(t, 3, f1.PeakReconnects, "700, 745 and 790 ms")
	assert.Equal(t, "s-Stress--reference-f1", f1.ChartID)
	assert.Empty(t, f1.Failed)

	// A fault that cut nobody off shows dashes and gets no charts.
	f2 := v.Faults[1]
	assert.Equal(t, "0 / 40", f2.Lost)
	assert.Equal(t, distCells{P50: "—", P90: "—", P99: "—", Max: "—"}, f2.Detect)
	assert.Equal(t, distCells{P50: "—", P90: "—", P99: "—", Max: "—"}, f2.Redial, "n=0")
	assert.Equal(t, "—", f2.AttemptsMax)
	assert.Empty(t, f2.ChartID)

	f3 := v.Faults[2]
	assert.Equal(t, "at 30,000", f3.Window)
	assert.True(t, f3.Recover.Over, "p99 2,070 ms against 1,500 ms")
	assert.False(t, f3.Detect.Over)
	assert.Equal(t, []string{"f3-close-1012-recover", "f3-close-1012-attempts"}, f3.Failed)
	assert.True(t, f3.AttemptsOver, "3 attempts against 2")

	require.Len(t, v.Charts, 2)
	c := v.Charts[1]
	assert.Equal(t, "f3-close-1012: 40 of 40 clients lost the connection", c.Title)
	require.NotNil(t, c.CDF)
	assert.Equal(t, 1, c.CDF.Missing, "the client that never came back keeps the curve below 100%")
	require.NotNil(t, c.CDF.Budget)
	assert.Equal(t, "recover target, p99 1,500 ms", c.CDF.Budget.Label)
	require.NotNil(t, c.Reconnects)
	assert.Equal(t, 39, c.Reconnects.Total)
	assert.Equal(t, c.CDF.XTicks, c.Reconnects.XTicks, "the histogram shares the CDF's time axis")

	require.Len(t, v.Resources, 3)
	assert.Equal(t, resourceRow{Process: "coordinator", Clients: "0", CPU: "1.25", RSS: "48", Goroutines: "420", FDs: "130 / 20,000"}, v.Resources[0])
	assert.Equal(t, "— / 1,024", v.Resources[2].FDs, "no /proc: the peak is unknown")
	assert.Equal(t, "2.62 CPU seconds in all over 41,000 ms of wall time: 0.06 cores busy on average.", v.ResourcesNote)
}

func TestStressHTMLContents(t *testing.T) {
	html := render(t, stressResult())
	for _, want := range []string{
		`<h3>Stress figures</h3>`,
		`<th colspan="4" class="grp">detect (ms)</th>`, `<th colspan="4" class="grp">recover (ms)</th>`,
		`1 <a href="#s-Stress--reference-f1">proxy-down</a></td><td class="num">12,000 → 14,500</td><td class="num">2,500</td><td class="num">40 / 40</td>`,
		`>2 latency</td><td class="num">24,000 → 28,000</td><td class="num">4,000</td><td class="num">0 / 40</td>`,
		`<td class="num g0">—</td><td class="num">—</td><td class="num">—</td><td class="num">—</td>`,
		`<tr class="bad" title="failed: f3-close-1012-recover, f3-close-1012-attempts">`,
		`<td class="num over" title="target: p99 ≤ 1,500 ms">2,070</td>`,
		`id="s-Stress--reference-f1"`, `id="s-Stress--reference-f3"`,
		`recover target, p99 5,000 ms`, `recover target, p99 1,500 ms`,
		`1 client never recovered`,
		`<td>down (server → client)</td><td class="num">800</td><td class="num">800</td><td class="num">0</td><td class="num">1</td>`,
		`79 reconnects in all`,
		`<tr><td>coordinator</td><td class="num">0</td><td class="num">1.25</td><td class="num">48</td><td class="num">420</td><td class="num">130 / 20,000</td></tr>`,
		`<tr><td>worker 2</td><td class="num">20</td><td class="num">0.50</td><td class="num">29</td><td class="num">128</td><td class="num">— / 1,024</td></tr>`,
		`close 1012 &#34;service restart&#34; &lt;b&gt;now&lt;/b&gt;`,
	} {
		contains(t, html, want)
	}
	notContains(t, html, "<b>now</b>")
	assert.Equal(t, 2, strings.Count(html, `<svg class="chart cdf"`), "a CDF for each fault that cut clients off")
	assert.Equal(t, 2, strings.Count(html, `<svg class="chart cdf reconnects"`))
	notContains(t, html, "http://")
	notContains(t, html, "https://")
	// The block is drawn before the long targets and checks tables.
	assert.Less(t, strings.Index(html, "Stress figures"), strings.Index(html, "<h3>Targets</h3>"))
}

func TestStressJSONRoundTrip(t *testing.T) {
	want := stressResult()
	b, err := result.Marshal(want)
	require.NoError(t, err)
	contains(t, string(b), `"stress": {`)
	got, err := result.Read(strings.NewReader(string(b)), result.ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestStressSurvivesOddInput(t *testing.T) {
	huge := make([]int, 100_000)
	for i := range huge {
		huge[i] = i % 7
	}
	many := make([]result.StressFault, 1000)
	for i := range many {
		many[i] = result.StressFault{Kind: "proxy-down", Disconnected: 1, Recover: result.Distribution{N: 1, P50: 5, P90: 5, P99: 5, Max: 5},
			RecoverCDF: []result.CDFPoint{{MS: 5, Fraction: 1}}, ReconnectsPer100ms: []int{1}}
	}
	points := make([]result.CDFPoint, 100_000)
	for i := range points {
		points[len(points)-1-i] = result.CDFPoint{MS: float64(i), Fraction: float64(i) / 50_000} // backwards, past 1
	}
	for name, st := range map[string]*result.StressStats{
		"zero":         {},
		"empty faults": {Faults: []result.StressFault{}, Resources: []result.ProcessResources{}},
		"zero fault":   {Faults: []result.StressFault{{}}},
		"lost, no cdf": {Clients: 5, Faults: []result.StressFault{{Kind: "x", Disconnected: 5}}},
		"odd values": {Clients: -3, Timescale: math.NaN(), DurationMS: -1, Faults: []result.StressFault{{
			Kind: "x", StartMS: math.Inf(-1), EndMS: math.NaN(), Disconnected: 9, Recovered: 12,
			Detect:             result.Distribution{N: 3, P50: -5, P90: math.NaN(), P99: math.Inf(1), Max: 1e300},
			Recover:            result.Distribution{N: 12, P50: -1, P90: 1e15, P99: math.NaN(), Max: math.Inf(1)},
			RecoverCDF:         []result.CDFPoint{{MS: -50, Fraction: -1}, {MS: math.NaN(), Fraction: 0.5}, {MS: 1e300, Fraction: 7}},
			ReconnectsPer100ms: []int{-4, 0, -1},
		}}, Resources: []result.ProcessResources{{CPUSeconds: math.NaN(), PeakRSSBytes: -1, PeakGoroutines: -1, PeakFDs: -1, FDLimit: -1}, {CPUSeconds: math.Inf(1)}}},
		"huge histogram": {Clients: 7, Faults: []result.StressFault{{Kind: "x", Disconnected: 7, ReconnectsPer100ms: huge}}},
		"many points":    {Clients: 100_000, Faults: []result.StressFault{{Kind: "x", Disconnected: 100_000, Recover: result.Distribution{N: 100_000}, RecoverCDF: points}}},
		"many faults":    {Clients: 1, Faults: many, Resources: make([]result.ProcessResources, 5000)},
	} {
		t.Run(name, func(t *testing.T) {
			r := &result.Result{Scenarios: []result.Scenario{{Name: "Stress", Verdict: result.Fail, Stress: st}}}
			html := render(t, r)
			contains(t, html, "Stress figures")
			assert.Less(t, len(html), 2<<20, "the page stays small")
		})
	}

	html := render(t, &result.Result{Scenarios: []result.Scenario{{Name: "S", Stress: &result.StressStats{Clients: 7, Faults: []result.StressFault{{Kind: "x", Disconnected: 7, ReconnectsPer100ms: huge}}}}}})
	contains(t, html, "The first 100 of 100000 windows are drawn.")
	contains(t, html, "No client recovered before the next fault.")
	bars := regexp.MustCompile(`class="herd-first" d="([^"]*)"`).FindStringSubmatch(html)
	require.NotNil(t, bars)
	assert.Equal(t, 85, strings.Count(bars[1], "z"), "the first 100 windows, less the 15 empty ones")

	html = render(t, &result.Result{Scenarios: []result.Scenario{{Name: "S", Stress: &result.StressStats{Clients: 1, Faults: many}}}})
	contains(t, html, "800 more faults are left out of the table.")
	contains(t, html, "976 more are left out.")
	assert.Equal(t, maxStressCharts, strings.Count(html, `<svg class="chart cdf reconnects"`))
}

func TestCDFPoints(t *testing.T) {
	got := cdfPoints([]result.CDFPoint{{MS: 30, Fraction: 0.5}, {MS: math.NaN(), Fraction: 0.6}, {MS: 10, Fraction: 0.75}, {MS: 40, Fraction: 3}})
	assert.Equal(t, []result.CDFPoint{{MS: 10, Fraction: 0.75}, {MS: 30, Fraction: 0.75}, {MS: 40, Fraction: 1}}, got, "sorted, never falling, at most 1")

	many := make([]result.CDFPoint, 1234)
	for i := range many {
		many[i] = result.CDFPoint{MS: float64(i), Fraction: float64(i+1) / 1234}
	}
	got = cdfPoints(many)
	assert.LessOrEqual(t, len(got), maxCDFPoints)
	assert.Equal(t, many[len(many)-1], got[len(got)-1], "the last point is kept")
}

// TestStressRedialTarget: the redial column is held to its fault's redial
// target like detect and recover.
func TestStressRedialTarget(t *testing.T) {
	r := stressResult()
	s := &r.Scenarios[0]
	s.Stress.Faults[0].Redial = result.Distribution{N: 40, P50: 500, P90: 800, P99: 900, Max: 950}
	s.Targets = append(s.Targets, result.Target{Name: "f1-proxy-down-redial", Limit: 800})
	v := buildStress(s, "x")
	require.NotNil(t, v)
	assert.Equal(t, distCells{P50: "500", P90: "800", P99: "900", Max: "950", Target: "target: p99 ≤ 800 ms", Over: true}, v.Faults[0].Redial)
}

// TestStressShardTiming: a run over several chain shards (here a merged
// result of two shard runs) shows each shard's fault timing as an offset
// from the first to begin, the skews, the shard runs and what a merged
// result can claim.
func TestStressShardTiming(t *testing.T) {
	r := stressResult()
	st := r.Scenarios[0].Stress
	st.ChainShards, st.Proxy = 3, "relay"
	st.Faults[0].Shards = []result.StressShardTiming{
		{Shard: 1, Chain: 1, BeganMS: 12000.4, StartMS: 12300, StopMS: 14500, EndMS: 14600},
		{Shard: 0, Chain: 1, BeganMS: 12000, StartMS: 12250, StopMS: 14500.2, EndMS: 14550},
		{Shard: 0, Chain: 2, BeganMS: 12150, StartMS: 12400, StopMS: 14500.1, EndMS: 14560},
	}
	st.Faults[0].StartSkewMS, st.Faults[0].EndSkewMS = 150, 0.2
	st.Merged = []result.StressShard{
		{Index: 0, Of: 2, FirstClient: 1, Clients: 20, TotalClients: 40, OriginUnixNS: 1764410400000000000, Host: "runner-a", Verdict: result.Pass},
		{Index: 1, Of: 2, FirstClient: 21, Clients: 20, TotalClients: 40, OriginUnixNS: 1764410400120000000, Host: "runner-b", Verdict: result.Fail},
	}
	st.MergeNote = "no single server saw the whole herd"
	v := buildStress(&r.Scenarios[0], "s")
	require.NotNil(t, v.Timing)
	assert.Equal(t, []string{"run 0, shard 1", "run 0, shard 2", "run 1, shard 1"}, v.Timing.Shards)
	require.Len(t, v.Timing.Rows, 1, "only the fault with shard timings")
	row := v.Timing.Rows[0]
	assert.Equal(t, []string{"+0.0", "+150.0", "+0.4"}, row.Offsets)
	assert.Equal(t, "150.0", row.StartSkew)
	assert.True(t, row.StartHigh, "150 ms apart is worth a look")
	assert.Equal(t, "0.2", row.EndSkew)
	assert.Equal(t, "150.0 ms", v.Timing.MaxSkew)
	assert.True(t, v.Timing.Runs, "columns over two shard runs")
	require.Len(t, v.Merged, 2)
	assert.Equal(t, "c21 – c40 (20)", v.Merged[1].Clients)
	assert.Equal(t, "2025-11-29 10:00:00.120 UTC", v.Merged[1].Origin)
	assert.Contains(t, v.Setup, "against 3 chain shards (relay)")
	page := render(t, r)
	for _, want := range []string{"Fault timing per chain shard", "Shard runs merged", "no single server saw the whole herd", "runner-b", "clocks' offset"} {
		assert.Contains(t, page, want)
	}

	// One chain shard: nothing to compare, no table.
	st.Faults[0].Shards = st.Faults[0].Shards[1:2]
	assert.Nil(t, buildStress(&r.Scenarios[0], "s").Timing)
}
