package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wschaos/wschaos/result"
)

// The stress figures: a stress run's aggregates (Scenario.Stress) as a
// table of the faults, for each fault that cut clients off a recovery CDF
// over a histogram of reconnects after its end on the same time axis, the
// message totals both ways and each process's use of the machine.

// Stress figure limits and geometry, in SVG user units. The reconnect
// histogram shares the CDF's width and x axis, so the two read together.
const (
	maxStressRows    = 200 // faults and processes listed
	maxStressCharts  = 24  // faults drawn
	maxStressWindows = 100 // reconnect windows drawn per fault
	maxCDFPoints     = 500 // CDF points drawn per fault
	stressWindowMS   = 100.0
	rcH              = 150.0
	rcTop            = 10.0
	rcBottom         = 112.0
)

type stressView struct {
	// Setup says how the run was made: clients, workers, seed, time scale.
	Setup, Profile string
	Faults         []stressRow
	FaultsLeftOut  int
	Charts         []stressCharts
	ChartsLeftOut  int
	Flows          []flowView
	Reconnects     int
	Resources      []resourceRow
	ResourcesNote  string
	// Timing is each fault's timing on every chain shard; nil with one.
	Timing *timingView
	// Merged lists the shard runs of a merged result, MergeNote what it
	// can claim.
	Merged    []mergedRow
	MergeNote string
}

// timingView is a table of faults by chain shard: when each shard began
// the fault, as an offset from the first to begin it.
type timingView struct {
	// Runs: the columns span the shard runs of a merged result.
	Runs       bool
	Shards     []string
	Rows       []timingRow
	ShardsLeft int
	MaxSkew    string
}

type timingRow struct {
	N                  int
	Kind, First        string
	Offsets            []string
	StartSkew, EndSkew string
	StartHigh, EndHigh bool
}

type mergedRow struct {
	Index                          int
	Clients, Host, Origin, StartAt string
	Verdict                        result.Verdict
}

// stressRow is one fault in the table. Times are in ms, without the unit:
// the header carries it.
type stressRow struct {
	N                       int
	Kind, Detail            string
	Window, Length          string
	Lost                    string
	Detect, Redial, Recover distCells
	AttemptsMax             string
	AttemptsOver            bool
	PeakReconnects          int
	// ChartID links to the fault's charts, "" when none are drawn.
	ChartID string
	// Failed lists the fault's failed checks.
	Failed []string
}

// distCells are a distribution's percentiles, "—" each when it is empty.
// Over marks a p99 beyond the fault's target, which Target states.
type distCells struct {
	P50, P90, P99, Max string
	Over               bool
	Target             string
}

type stressCharts struct {
	ID, Title  string
	CDF        *cdfChart
	Reconnects *countChart
}

// countChart is a histogram of counts per window after a fault's end.
type countChart struct {
	W, H                   float64
	X0, X1, Top, Bottom    string
	Bars                   string
	XTicks, YTicks         []tick
	AxisTitleX, AxisTitleY string
	Total, Peak            int
	PeakAt                 string
	Shown, Windows         int
}

type resourceRow struct {
	Process, Clients, CPU, RSS, Goroutines, FDs string
	// FDsHigh marks a process that used most of its descriptor limit.
	FDsHigh bool
}

// buildStress lays out s.Stress; nil when s has none. id prefixes the
// chart anchors.
func buildStress(s *result.Scenario, id string) *stressView {
	st := s.Stress
	if st == nil {
		return nil
	}
	v := &stressView{Profile: st.Profile, Reconnects: st.Reconnects,
		Flows: []flowView{{"up (client → server)", st.Up}, {"down (server → client)", st.Down}}}
	v.Setup = stressSetup(st)
	for i := range st.Faults {
		f := &st.Faults[i]
		label := fmt.Sprintf("f%d-%s", i+1, f.Kind)
		var charts *stressCharts
		if f.Disconnected > 0 {
			if len(v.Charts) < maxStressCharts {
				charts = buildStressCharts(s, f, label, fmt.Sprintf("%s-f%d", id, i+1))
				v.Charts = append(v.Charts, *charts)
			} else {
				v.ChartsLeftOut++
			}
		}
		if len(v.Faults) >= maxStressRows {
			v.FaultsLeftOut++
			continue
		}
		row := stressRow{N: i + 1, Kind: f.Kind, Detail: f.Text,
			Window: stressWindow(f.StartMS, f.EndMS),
			Length: grouped(math.Round(f.EndMS - f.StartMS)),
			Lost:   fmt.Sprintf("%s / %s", grouped(float64(f.Disconnected)), grouped(float64(st.Clients))),
			Detect: distRow(s, f.Detect, label+"-detect"), Redial: distRow(s, f.Redial, label+"-redial"),
			Recover: distRow(s, f.Recover, label+"-recover"), AttemptsMax: "—",
			PeakReconnects: slices.Max(append([]int{0}, f.ReconnectsPer100ms...)),
			Failed:         failedChecks(s, label+"-")}
		if f.Attempts.N > 0 {
			row.AttemptsMax = grouped(f.Attempts.Max)
			lim, ok := targetLimit(s, label+"-attempts")
			row.AttemptsOver = ok && f.Attempts.Max > lim
		}
		if charts != nil {
			row.ChartID = charts.ID
		}
		v.Faults = append(v.Faults, row)
	}
	v.Resources, v.ResourcesNote = resourceRows(st.Resources, s.DurationMS)
	v.Timing = buildTiming(st.Faults)
	for _, m := range st.Merged {
		row := mergedRow{Index: m.Index, Host: m.Host, Verdict: m.Verdict, Origin: unixTime(m.OriginUnixNS), StartAt: "—",
			Clients: fmt.Sprintf("c%d – c%d (%s)", m.FirstClient, m.FirstClient+m.Clients-1, grouped(float64(m.Clients)))}
		if m.StartAtUnixNS != 0 {
			row.StartAt = unixTime(m.StartAtUnixNS)
		}
		v.Merged = append(v.Merged, row)
	}
	v.MergeNote = st.MergeNote
	return v
}

// maxTimingShards bounds the chain shards the timing table has columns for.
const maxTimingShards = 16

// skewHigh marks a skew worth a look: the shards began a fault more than
// this far apart.
const skewHigh = 100.0

// buildTiming lays out every fault's timing by chain shard; nil when no
// fault was applied on more than one.
func buildTiming(faults []result.StressFault) *timingView {
	type key struct{ shard, chain int }
	var cols []key
	for _, f := range faults {
		for _, t := range f.Shards {
			if k := (key{t.Shard, t.Chain}); !slices.Contains(cols, k) {
				cols = append(cols, k)
			}
		}
	}
	if len(cols) < 2 {
		return nil
	}
	slices.SortFunc(cols, func(a, b key) int { return cmp.Or(a.shard-b.shard, a.chain-b.chain) })
	multi := cols[0].shard != cols[len(cols)-1].shard
	tv := &timingView{Runs: multi}
	for i, k := range cols {
		if i == maxTimingShards {
			tv.ShardsLeft = len(cols) - i
			break
		}
		name := fmt.Sprintf("shard %d", k.chain)
		if multi {
			name = fmt.Sprintf("run %d, shard %d", k.shard, k.chain)
		}
		tv.Shards = append(tv.Shards, name)
	}
	worst := 0.0
	for i, f := range faults {
		if len(f.Shards) == 0 || len(tv.Rows) >= maxStressRows {
			continue
		}
		first := math.Inf(1)
		for _, t := range f.Shards {
			first = math.Min(first, t.BeganMS)
		}
		row := timingRow{N: i + 1, Kind: f.Kind, First: grouped(math.Round(first)),
			StartSkew: strconv.FormatFloat(f.StartSkewMS, 'f', 1, 64), EndSkew: "—",
			StartHigh: f.StartSkewMS > skewHigh, EndHigh: f.EndSkewMS > skewHigh}
		if f.Shards[0].StopMS != 0 {
			row.EndSkew = strconv.FormatFloat(f.EndSkewMS, 'f', 1, 64)
		}
		worst = max(worst, f.StartSkewMS, f.EndSkewMS)
		for _, k := range cols[:len(tv.Shards)] {
			cell := "—"
			for _, t := range f.Shards {
				if t.Shard == k.shard && t.Chain == k.chain {
					cell = "+" + strconv.FormatFloat(t.BeganMS-first, 'f', 1, 64)
				}
			}
			row.Offsets = append(row.Offsets, cell)
		}
		tv.Rows = append(tv.Rows, row)
	}
	tv.MaxSkew = strconv.FormatFloat(worst, 'f', 1, 64) + " ms"
	return tv
}

// unixTime shows a wall-clock time in Unix ns as UTC, to the millisecond.
func unixTime(ns int64) string {
	if ns == 0 {
		return "—"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func stressSetup(st *result.StressStats) string {
	where := fmt.Sprintf("over %d worker process", st.Workers)
	if st.Workers != 1 {
		where += "es"
	}
	if st.InProcess {
		where = "in the coordinator's process"
	}
	if st.ChainShards > 0 {
		where += fmt.Sprintf(" against %d chain shard", st.ChainShards)
		if st.ChainShards != 1 {
			where += "s"
		}
	}
	if st.Proxy != "" {
		where += " (" + st.Proxy + ")"
	}
	if sp := st.Shard; sp != nil {
		where += fmt.Sprintf(" · shard %d of %d of a %s-client run", sp.Index, sp.Of, grouped(float64(sp.TotalClients)))
	}
	return fmt.Sprintf("%s clients %s · seed %d · time scale %s · schedule %s",
		grouped(float64(st.Clients)), where, st.Seed, num(st.Timescale), fmtMS(st.DurationMS))
}

// stressWindow says when a fault held, in whole ms without the unit:
// "at 600" for an instant fault, "1,000 → 3,000" for a window.
func stressWindow(start, end float64) string {
	if start == end {
		return "at " + grouped(math.Round(start))
	}
	return grouped(math.Round(start)) + " → " + grouped(math.Round(end))
}

// distRow formats d for the table, whole ms, and holds its p99 against the
// target named target, if there is one.
func distRow(s *result.Scenario, d result.Distribution, target string) distCells {
	if d.N <= 0 {
		return distCells{P50: "—", P90: "—", P99: "—", Max: "—"}
	}
	ms := func(v float64) string { return grouped(math.Round(v)) }
	c := distCells{P50: ms(d.P50), P90: ms(d.P90), P99: ms(d.P99), Max: ms(d.Max)}
	if lim, ok := targetLimit(s, target); ok && target != "" {
		c.Target = "target: p99 ≤ " + fmtMS(lim)
		c.Over = d.P99 > lim
	}
	return c
}

// failedChecks lists the names of s's failed checks that start with prefix.
func failedChecks(s *result.Scenario, prefix string) []string {
	var out []string
	for _, c := range s.Checks {
		if c.Failed() && strings.HasPrefix(c.Name, prefix) {
			out = append(out, c.Name)
		}
	}
	return out
}

// buildStressCharts draws one fault's recovery CDF, with its recover
// target if the scenario states one, over its reconnects per window.
func buildStressCharts(s *result.Scenario, f *result.StressFault, label, id string) *stressCharts {
	clients := s.Stress.Clients
	c := &stressCharts{ID: id, Title: fmt.Sprintf("%s: %d of %d clients lost the connection", label, f.Disconnected, clients)}
	pts := cdfPoints(f.RecoverCDF)
	// The stored fractions are of the clients that recovered; the chart
	// shows them as shares of every client.
	share := 1.0
	if n := f.Recover.N; n > 0 && n <= clients {
		share = float64(n) / float64(clients)
	}
	for i := range pts {
		pts[i].Fraction *= share
	}
	marks := percentileMarks(pts, f.Recover)
	var budget *cdfBudget
	if lim, ok := targetLimit(s, label+"-recover"); ok {
		budget = &cdfBudget{ms: lim, label: "recover target, p99"}
	}
	if len(pts) > 0 {
		span := float64(min(len(f.ReconnectsPer100ms), maxStressWindows)) * stressWindowMS
		c.CDF = drawCDF(pts, marks, budget, span)
		c.CDF.Title = "Recovery time, cumulative"
		c.CDF.XTitle = "ms after the fault's end → share of all clients recovered"
		c.CDF.Missing = max(0, clients-f.Recover.N)
	}
	c.Reconnects = buildReconnects(f.ReconnectsPer100ms, c.CDF)
	return c
}

// buildReconnects draws counts per stressWindowMS window from the fault's
// end, the first maxStressWindows of them, on the x axis of cdf when there
// is one; nil when there is nothing to draw.
func buildReconnects(counts []int, cdf *cdfChart) *countChart {
	c := &countChart{W: cdfW, H: rcH, X0: f1(cdfX0), X1: f1(cdfX1), Top: f1(rcTop), Bottom: f1(rcBottom),
		AxisTitleX: f1(cdfX1), AxisTitleY: f1(rcH - 4), Windows: len(counts)}
	shown := counts[:min(len(counts), maxStressWindows)]
	peakAt := 0
	for i, n := range counts {
		c.Total += max(n, 0)
		if n > c.Peak {
			c.Peak, peakAt = n, i
		}
	}
	if c.Total == 0 {
		return nil
	}
	c.Shown = len(shown)
	c.PeakAt = fmtMS(float64(peakAt) * stressWindowMS)
	top := float64(len(shown)) * stressWindowMS
	xstep := niceStep(top, 6)
	if cdf != nil {
		top, xstep = cdf.top, cdf.step
	}
	x := func(ms float64) float64 { return cdfX0 + min(ms, top)/top*(cdfX1-cdfX0) }
	c.XTicks = ticks(top, xstep, 12, x)
	ytop := 1.0
	for _, n := range shown {
		ytop = max(ytop, float64(n))
	}
	ystep, ytop := countAxis(ytop)
	y := func(v float64) float64 { return rcBottom - v/ytop*(rcBottom-rcTop) }
	c.YTicks = ticks(ytop, ystep, 10, y)
	var b strings.Builder
	for i, n := range shown {
		x0, x1 := x(float64(i)*stressWindowMS), x(float64(i+1)*stressWindowMS)
		if n > 0 && x1 > x0 {
			barPath(&b, x0, max(0.5, x1-x0-1), y(0), y(float64(n)))
		}
	}
	c.Bars = b.String()
	return c
}

// resourceRows lays out each process's use of the machine, and says what
// they used between them over a run of durationMS.
func resourceRows(rs []result.ProcessResources, durationMS float64) ([]resourceRow, string) {
	var rows []resourceRow
	cpu := 0.0
	for i, r := range rs {
		if finite(r.CPUSeconds) && r.CPUSeconds > 0 {
			cpu += r.CPUSeconds
		}
		if i >= maxStressRows {
			continue
		}
		row := resourceRow{Process: r.Process, Clients: grouped(float64(r.Clients)),
			CPU: "—", RSS: "—", Goroutines: "—", FDs: "—"}
		if finite(r.CPUSeconds) && r.CPUSeconds >= 0 {
			row.CPU = strconv.FormatFloat(r.CPUSeconds, 'f', 2, 64)
		}
		if r.PeakRSSBytes > 0 {
			row.RSS = grouped(float64(r.PeakRSSBytes) / (1 << 20))
		}
		if r.PeakGoroutines > 0 {
			row.Goroutines = grouped(float64(r.PeakGoroutines))
		}
		if r.PeakFDs >= 0 || r.FDLimit > 0 {
			fds, limit := "—", "—"
			if r.PeakFDs >= 0 {
				fds = grouped(float64(r.PeakFDs))
			}
			if r.FDLimit > 0 {
				limit = grouped(float64(r.FDLimit))
			}
			row.FDs = fds + " / " + limit
			row.FDsHigh = r.FDLimit > 0 && float64(r.PeakFDs) > 0.8*float64(r.FDLimit)
		}
		rows = append(rows, row)
	}
	if len(rs) == 0 {
		return nil, ""
	}
	note := fmt.Sprintf("%s CPU seconds in all", strconv.FormatFloat(cpu, 'f', 2, 64))
	if finite(durationMS) && durationMS > 0 {
		note += fmt.Sprintf(" over %s of wall time: %s cores busy on average", fmtMS(durationMS), strconv.FormatFloat(cpu/(durationMS/1000), 'f', 2, 64))
	}
	if len(rs) > len(rows) {
		note += fmt.Sprintf("; the first %d of %d processes are listed", len(rows), len(rs))
	}
	return rows, note + "."
}
