package stress

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// shardPart is a synthetic shard run of seed 9: index i of of, clients
// first..first+n-1, its clock starting shiftMS after 10:00 UTC, with
// every client's figures of its first fault (a proxy down) given.
func shardPart(t *testing.T, i, of, first, n int, shiftMS float64, detect, recov, firstDial []int64) *result.Result {
	t.Helper()
	sched, err := NewSchedule(9, 40*time.Second, 1)
	require.NoError(t, err)
	origin := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).Add(time.Duration(shiftMS * float64(time.Millisecond)))
	p := sched.Faults[0]
	raw := &result.StressRaw{DetectUS: detect, RedialUS: firstDial, RecoverUS: recov, Attempts: slices.Repeat(result.Ints{1}, len(recov)),
		FirstDialUS: firstDial, ReadyUS: recov}
	fs := result.StressFault{Kind: p.Kind, Text: "proxy down", StartMS: 12000, EndMS: 12000 + msOf(p.For), Disconnected: len(detect), Recovered: len(recov), Raw: raw,
		Shards: []result.StressShardTiming{
			{Shard: i, Chain: 1, BeganMS: 11990, StartMS: 12000, StopMS: 12000 + msOf(p.For), EndMS: 12000 + msOf(p.For)},
			{Shard: i, Chain: 2, BeganMS: 11991, StartMS: 11999, StopMS: 12001 + msOf(p.For), EndMS: 12000 + msOf(p.For)},
		}}
	skews(&fs)
	Aggregate(&fs, n)
	st := &result.StressStats{Clients: n, Workers: 1, Timescale: 1, Seed: 9, DurationMS: 40000, Profile: profileText(effective(1), 1),
		Faults: []result.StressFault{fs}, Up: result.Flow{Sent: 10 * n, Delivered: 10 * n}, Down: result.Flow{Sent: 9 * n, Delivered: 9 * n},
		Reconnects: n, ChainShards: 2, Proxy: ProxyRelay, OriginUnixNS: origin.UnixNano(),
		Resources: []result.ProcessResources{{Process: "coordinator"}, {Process: "shard 1", Clients: n / 2}},
		Shard: &result.StressShard{Index: i, Of: of, FirstClient: first, Clients: n, TotalClients: n * of, OriginUnixNS: origin.UnixNano(),
			StartAtUnixNS: 1, Host: fmt.Sprintf("host-%d", i)}}
	sc := result.Scenario{Name: ScenarioName, Client: "reference", Clients: n, Verdict: result.Pass, Stress: st,
		Faults: []result.Fault{{Index: 1, Kind: p.Kind, Layer: result.LayerNetwork, IssuedMS: 11990, StartMS: 12000, EndMS: 12000 + msOf(p.For)}}}
	j := judged{&sc}
	for _, name := range []string{"warm-up", "faults-applied", "workers"} {
		tg := result.Target{Name: name, Want: "all"}
		j.add(tg, h.Verdict(tg, true, "ok", nil, ""))
	}
	tg := result.Target{Name: "f1-proxy-down-detect", Want: "p99 <= 1100 ms"}
	j.add(tg, h.Verdict(tg, true, "own", nil, ""))
	for _, name := range []string{"continuity", "delays-in-policy", "no-fatal"} {
		tg := result.Target{Name: name, Want: "none"}
		j.add(tg, h.Verdict(tg, true, "0", nil, ""))
	}
	return &result.Result{Schema: result.Schema, Verdict: result.Pass, Run: result.RunInfo{Seed: 9, Timescale: 1}, Scenarios: []result.Scenario{sc}}
}

// TestMergeRecomputes: the merged distributions are those of every
// client's figures together, not an average of the shards'; counts add
// up; the shards' timings land on one clock and the skew is over them all.
func TestMergeRecomputes(t *testing.T) {
	// Shard 0's clients are all fast, shard 1's all slow: an average of
	// their p50s would be 1,050 ms, which no client had.
	a := shardPart(t, 0, 2, 1, 4, 0, result.Ints{1000, 2000, 3000, 4000}, result.Ints{100_000, 110_000, 120_000, 130_000}, result.Ints{0, 150_000, 160_000, 170_000})
	b := shardPart(t, 1, 2, 5, 4, 120, result.Ints{5000, 6000, 7000, 8000}, result.Ints{2_000_000, 2_100_000, 2_200_000, 2_300_000}, result.Ints{40_000, 50_000, 60_000, 70_000})
	// Given in the wrong order: the merge sorts by shard index.
	m, err := Merge([]*result.Result{b, a}, []string{"b/result.json", "a/result.json"})
	require.NoError(t, err)
	sc := m.Scenarios[0]
	st := sc.Stress
	require.Len(t, st.Faults, 1)
	f := st.Faults[0]
	all := []float64{100, 110, 120, 130, 2000, 2100, 2200, 2300}
	assert.Equal(t, h.Distribute(slices.Clone(all)), f.Recover, "recomputed over all 8 clients")
	assert.Equal(t, 130.0, f.Recover.P50, "nearest rank over all: the 4th of 8")
	assert.Equal(t, h.CDF(all, 8, 50), f.RecoverCDF)
	assert.Equal(t, 8, f.Disconnected)
	assert.Equal(t, 8, f.Recovered)
	assert.Equal(t, h.Histogram([]float64{0, 150, 160, 170, 40, 50, 60, 70}, 0, windowMS, 200), f.FirstDialsPer100ms)
	assert.Equal(t, 8, st.Clients)
	assert.Equal(t, 4, st.ChainShards)
	assert.Equal(t, 80, st.Up.Sent)
	assert.Equal(t, a.Scenarios[0].Stress.OriginUnixNS, st.OriginUnixNS, "the earliest shard run's clock")
	require.Len(t, f.Shards, 4)
	assert.InDelta(t, 11990+120, f.Shards[2].BeganMS, 1e-9, "shard 1's times moved onto the merged clock")
	assert.InDelta(t, 121, f.StartSkewMS, 1e-9, "11,990 on shard 0 to 12,111 on shard 1")
	assert.Equal(t, []int{0, 1}, []int{st.Merged[0].Index, st.Merged[1].Index})
	assert.Equal(t, "shard run 1: shard 1", st.Resources[3].Process)
	assert.Equal(t, MergeNote, st.MergeNote)
	assert.Contains(t, sc.Description, "merged from 2 shard runs")
	require.Len(t, sc.Faults, 1)
	assert.InDelta(t, 11990, sc.Faults[0].IssuedMS, 1e-9)

	names := make([]string, len(sc.Checks))
	for i, c := range sc.Checks {
		names[i] = c.Name
	}
	assert.Equal(t, []string{"warm-up", "faults-applied", "workers"}, names[:3], "validity first")
	assert.Contains(t, names, "f1-proxy-down-recover", "fault checks judged again over all clients")
	assert.Equal(t, []string{"continuity", "delays-in-policy", "no-fatal"}, names[len(names)-3:])
	assert.Equal(t, result.Pass, sc.Checks[slices.Index(names, "continuity")].Verdict)
	assert.Equal(t, "shard 0: 0; shard 1: 0", sc.Checks[slices.Index(names, "continuity")].Got)

	// One shard's failed whole-run check fails the merged one.
	bad := shardPart(t, 1, 2, 5, 4, 120, result.Ints{5000}, result.Ints{2_000_000}, result.Ints{40_000})
	bsc := &bad.Scenarios[0]
	bsc.Checks[len(bsc.Checks)-1].Verdict = result.Fail
	m, err = Merge([]*result.Result{a, bad}, []string{"a", "bad"})
	require.NoError(t, err)
	last := m.Scenarios[0].Checks[len(m.Scenarios[0].Checks)-1]
	assert.Equal(t, "no-fatal", last.Name)
	assert.Equal(t, result.Fail, last.Verdict)
	assert.Equal(t, result.Fail, m.Verdict)
	require.NoError(t, result.Validate(m), "a merged result is a valid result")
}

func TestMergeRefuses(t *testing.T) {
	part := func(i, of int) *result.Result {
		return shardPart(t, i, of, 1+4*i, 4, 0, result.Ints{1000}, result.Ints{100_000}, result.Ints{0})
	}
	for name, tc := range map[string]struct {
		parts func() []*result.Result
		want  string
	}{
		"nothing": {func() []*result.Result { return nil }, "no results given"},
		"catalogue": {func() []*result.Result {
			return []*result.Result{{Schema: result.Schema, Scenarios: []result.Scenario{{Name: "MassDrop"}}}}
		}, "not a stress result"},
		"not a shard": {func() []*result.Result {
			r := part(0, 1)
			r.Scenarios[0].Stress.Shard = nil
			return []*result.Result{r}
		}, "not a shard run"},
		"merged": {func() []*result.Result {
			r := part(0, 1)
			r.Scenarios[0].Stress.Merged = []result.StressShard{{}}
			return []*result.Result{r}
		}, "already a merged result"},
		"seed": {func() []*result.Result {
			r := part(1, 2)
			r.Scenarios[0].Stress.Seed = 10
			return []*result.Result{part(0, 2), r}
		}, "seed 10, but"},
		"start": {func() []*result.Result {
			r := part(1, 2)
			r.Scenarios[0].Stress.Shard.StartAtUnixNS = 2
			return []*result.Result{part(0, 2), r}
		}, "scheduled start"},
		"profile": {func() []*result.Result {
			r := part(1, 2)
			r.Scenarios[0].Stress.Profile = "other"
			return []*result.Result{part(0, 2), r}
		}, "client profile"},
		"twice":   {func() []*result.Result { return []*result.Result{part(0, 2), part(0, 2)} }, "shard index 0 again"},
		"missing": {func() []*result.Result { return []*result.Result{part(0, 3), part(2, 3)} }, "3 shards and 1 are missing (first: 1)"},
		"huge count": {func() []*result.Result {
			a, b := part(0, 2), part(1, 2)
			a.Scenarios[0].Stress.Shard.Of, b.Scenarios[0].Stress.Shard.Of = 1<<40, 1<<40
			return []*result.Result{a, b}
		}, "1099511627774 are missing (first: 2, 3, 4"},
		"no count": {func() []*result.Result {
			r := part(0, 1)
			r.Scenarios[0].Stress.Shard.Of = 0
			return []*result.Result{r}
		}, "shard count 0"},
		"index": {func() []*result.Result {
			r := part(1, 2)
			r.Scenarios[0].Stress.Shard.Index = 5
			return []*result.Result{part(0, 2), r}
		}, "shard index 5 of 2"},
	} {
		t.Run(name, func(t *testing.T) {
			parts := tc.parts()
			names := make([]string, len(parts))
			for i := range names {
				names[i] = fmt.Sprintf("part%d/result.json", i)
			}
			_, err := Merge(parts, names)
			require.ErrorIs(t, err, ErrMerge)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
