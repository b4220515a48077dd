package stress

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/leaktest"
	"github.com/wschaos/wschaos/result"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

func TestScheduleSeeded(t *testing.T) {
	a, err := NewSchedule(42, 2*time.Minute, 1)
	require.NoError(t, err)
	b, err := NewSchedule(42, 2*time.Minute, 1)
	require.NoError(t, err)
	assert.Equal(t, a, b, "same seed, same schedule")
	c, err := NewSchedule(43, 2*time.Minute, 1)
	require.NoError(t, err)
	assert.NotEqual(t, a.Faults, c.Faults, "another seed, another schedule")

	require.NotEmpty(t, a.Faults)
	assert.Equal(t, h.FaultProxyDown, a.Faults[0].Kind, "every schedule starts with a mass drop")
	o := effective(1)
	var prevEnd time.Duration
	for i, p := range a.Faults {
		assert.Contains(t, Kinds, p.Kind)
		assert.GreaterOrEqual(t, p.At, prevEnd, "fault %d overlaps the previous one's recovery", i)
		b := p.Bounds(o, 0)
		prevEnd = p.At + p.For + b.Settle + o.MinHealthyUptime
		assert.LessOrEqual(t, prevEnd, 2*time.Minute, "fault %d and its recovery fit in the duration", i)
		_, err := p.Fault()
		assert.NoError(t, err)
	}
}

func TestScheduleTimescale(t *testing.T) {
	a, err := NewSchedule(7, 10*time.Minute, 1)
	require.NoError(t, err)
	b, err := NewSchedule(7, 10*time.Minute, 6)
	require.NoError(t, err)
	assert.Less(t, len(b.Faults), len(a.Faults), "stretched faults: fewer fit")
	assert.Equal(t, 6*Profile(1).PingInterval, Profile(6).PingInterval)
	assert.Equal(t, 6*Profile(1).Backoff.Max, Profile(6).Backoff.Max)

	_, err = NewSchedule(7, 5*time.Second, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too short")
	_, err = NewSchedule(7, time.Minute, 0)
	assert.Error(t, err)
}

func TestWorkerRejectsBadConfig(t *testing.T) {
	for name, in := range map[string]string{
		"no input":   "",
		"not json":   "go\n",
		"no url":     `{"first":1,"count":1,"timescale":1}` + "\n",
		"empty url":  `{"urls":[""],"first":1,"count":1,"timescale":1}` + "\n",
		"bad counts": `{"urls":["ws://127.0.0.1:1/ws"],"first":0,"count":0,"timescale":1}` + "\n",
		"bad scale":  `{"urls":["ws://127.0.0.1:1/ws"],"first":1,"count":1,"timescale":-1}` + "\n",
		"bad url":    `{"urls":["http://127.0.0.1:1/ws"],"first":1,"count":1,"timescale":1}` + "\n",
		"unknown":    `{"urls":["ws://127.0.0.1:1/ws"],"first":1,"count":1,"timescale":1,"clients":5}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := RunWorker(t.Context(), strings.NewReader(in), &out)
			require.Error(t, err)
			w, derr := decodeWire(bytes.TrimSpace(out.Bytes()), fromWorker)
			require.NoError(t, derr, "the worker reports its error as a wire line")
			assert.Equal(t, wireError, w.Type)
			assert.NotEmpty(t, w.Message)
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"no clients":     {},
		"negative dur":   {Clients: 1, Duration: -time.Second},
		"bad scale":      {Clients: 1, Timescale: -2},
		"negative works": {Clients: 1, Workers: -1},
		"negative proxy": {Clients: 1, Proxies: -1},
		"negative chain": {Clients: 1, ChainShards: -1},
		"unknown proxy":  {Clients: 1, Proxy: "nginx"},
		"relay external": {Clients: 1, Proxy: ProxyRelay, ToxiproxyURL: "http://127.0.0.1:1"},
		"shard past":     {Clients: 4, Split: &Split{Index: 2, Of: 2}},
		"empty shard":    {Clients: 2, Split: &Split{Index: 2, Of: 3}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Run(t.Context(), o)
			assert.Error(t, err)
		})
	}
	o := Options{Clients: 5001, InProcess: true}
	require.NoError(t, o.defaults())
	assert.Equal(t, 3, o.Workers, "one worker per ClientsPerWorker, rounded up")
	assert.Equal(t, 21, o.Proxies, "one proxy per ClientsPerProxy, rounded up")
	assert.Equal(t, ProxyRelay, o.Proxy)
}

// TestRunSmall is the end-to-end run: 40 clients over 2 in-process workers
// (the same protocol over pipes) under a short schedule, which must pass.
func TestChainShardsFor(t *testing.T) {
	for _, tc := range []struct {
		clients int
		limit   int64
		proxy   string
		want    int
	}{
		{20000, 20000, ProxyRelay, 2},     // 12,000 a shard at one descriptor a client
		{12000, 20000, ProxyRelay, 1},     // exactly one shard's share
		{12001, 20000, ProxyRelay, 2},     // one over
		{20000, 20000, ProxyToxiproxy, 5}, // 4,000 a shard at three a client
		{5000, 0, ProxyRelay, 9},          // an unknown limit counts as 1,024: 614 a shard
		{1, 1, ProxyToxiproxy, 1},         // never fewer than one
	} {
		assert.Equal(t, tc.want, ChainShardsFor(tc.clients, tc.limit, tc.proxy), "%d clients, limit %d, %s", tc.clients, tc.limit, tc.proxy)
	}
}

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes about 15s")
	}
	var progress bytes.Buffer
	rep, err := Run(t.Context(), Options{Clients: 40, Workers: 2, Proxies: 3, ChainShards: 2, InProcess: true, Duration: 12 * time.Second, Seed: 3,
		Timescale: 0.5, Progress: &progress, ProgressEvery: time.Second})
	require.NoError(t, err)
	sc := rep.Scenario
	require.Empty(t, sc.Error)
	for _, c := range sc.Checks {
		assert.Equal(t, result.Pass, c.Verdict, "check %s: got %s, want %s (%s)", c.Name, c.Got, c.Want, c.Margin)
	}
	assert.Equal(t, result.Pass, sc.Verdict)
	require.NoError(t, result.Validate(&result.Result{Schema: result.Schema, Verdict: sc.Verdict, Scenarios: []result.Scenario{sc}}),
		"every event on the timeline is of the typed vocabulary")
	for _, tg := range sc.Targets {
		if tg.Unit == result.UnitMS {
			assert.InDelta(t, tg.Bound+tg.Allowance, tg.Limit, 1e-6, "%s: the limit is the bound plus the allowance", tg.Name)
			assert.Contains(t, tg.Why, "allowance", tg.Name)
		}
	}
	assert.Equal(t, ScenarioName, sc.Name)
	require.NotNil(t, sc.Stress, "the aggregates travel with the result, for the report")
	st := sc.Stress
	require.NotEmpty(t, st.Faults)
	f := st.Faults[0]
	assert.Equal(t, h.FaultProxyDown, f.Kind)
	assert.Equal(t, 40, f.Disconnected)
	assert.Equal(t, 40, f.Recovered)
	assert.Equal(t, 40, f.Recover.N)
	assert.Equal(t, 40, f.Redial.N, "every client dialled again after the mass drop")
	assert.NotEmpty(t, f.ReconnectsPer100ms)
	assert.Positive(t, st.Up.Delivered)
	assert.Positive(t, st.Down.Delivered)
	require.Len(t, st.Resources, 5, "the coordinator, two chain shards and two workers")
	assert.Equal(t, []string{"coordinator", "shard 1", "shard 2", "worker 1", "worker 2"}, processNames(st.Resources))
	assert.Equal(t, 2, st.ChainShards)
	for _, f := range st.Faults {
		require.Len(t, f.Shards, 2, "each chain shard's timing of %s", f.Kind)
		assert.GreaterOrEqual(t, f.StartSkewMS, 0.0)
		assert.Less(t, f.StartSkewMS, 1000.0, "the shards begin a fault together, to within scheduling")
		for _, tm := range f.Shards {
			assert.LessOrEqual(t, tm.BeganMS, tm.StartMS)
		}
	}
	require.NotNil(t, sc.Profile)
	assert.Equal(t, msOf(effective(0.5).Backoff.Max), sc.Profile.Backoff.MaxMS)
	assert.Positive(t, st.Resources[0].CPUSeconds)
	assert.Contains(t, progress.String(), "ready")
}

// TestBounds holds each kind's targets to the profile: recovery to the
// stress goal (the cap plus the allowance), redial to the policy.
func TestBounds(t *testing.T) {
	o := effective(1)
	_, first := o.Backoff.Envelope(1)
	goal := o.Backoff.Max + HerdAllowance
	for _, kind := range []string{h.FaultAbruptClose, KindClose1001, KindClose1012} {
		b := Planned{Kind: kind}.Bounds(o, 5000)
		assert.True(t, b.Disconnects, kind)
		assert.Equal(t, goal, b.Recover.Limit(), kind)
		assert.Equal(t, o.Backoff.Max, b.Recover.D, "%s: the goal is the cap, the herd allowance comes on top", kind)
		assert.Equal(t, first+o.CloseGrace+HerdAllowance, b.Redial.Limit(), kind)
		assert.Equal(t, HerdAllowance, b.Redial.Allowance, kind)
		assert.Equal(t, time.Duration(float64(first)*o.Backoff.Jitter), b.Spread, kind)
		assert.Equal(t, b.Redial.Limit(), b.Settle, kind)
		assert.Equal(t, h.AtOnce+HerdAllowance+5000*CloseCost, b.Detect.Limit(), "%s: the last of 5,000 close handshakes", kind)
		assert.Contains(t, b.Detect.Why(), "herd allowance 1s", kind)
		assert.Contains(t, b.Detect.Why(), "CloseCost", kind)
	}
	for _, kind := range []string{h.FaultProxyDown, h.FaultServerRestart} {
		for _, d := range []time.Duration{500 * time.Millisecond, 4 * time.Second, time.Minute} {
			b := Planned{Kind: kind, For: d}.Bounds(o, 5000)
			pending := h.WorstDelayAfter(o, d)
			assert.Equal(t, pending, b.Redial.D, "%s for %v", kind, d)
			assert.Equal(t, pending+HerdAllowance, b.Redial.Limit(), "%s for %v", kind, d)
			assert.LessOrEqual(t, b.Redial.Limit(), goal, "%s for %v: the goal covers any pending delay", kind, d)
			assert.Equal(t, goal, b.Recover.Limit())
			assert.Contains(t, b.Redial.Why(), "measured at 5,000 clients", "the herd allowance states what sized it")
		}
	}
	bh := Planned{Kind: h.FaultBlackHole, For: 17 * time.Second}.Bounds(o, 5000)
	assert.Zero(t, bh.Redial, "a dial into the hole may go through when it lifts")
	assert.Equal(t, h.WorstDelayAfter(o, 17*time.Second)+HerdAllowance, bh.Settle)
	_, second := o.Backoff.Envelope(2)
	assert.Equal(t, time.Duration(float64(second)*o.Backoff.Jitter), bh.Spread, "the end releases every stalled dial at once")
	// The cap is sized for the herd: retries at the cap spread over
	// cap x jitter, which must hold 5,000 clients at 1,000 a second.
	assert.GreaterOrEqual(t, time.Duration(float64(o.Backoff.Max)*o.Backoff.Jitter), 5*time.Second)
	hb := o.PingInterval + o.PongTimeout
	assert.Equal(t, hb, bh.Detect.D, "the heartbeat, counted from the fault")
	assert.Equal(t, hb+h.Allowance(hb)+HerdAllowance, bh.Detect.Limit(), "the catalogue's allowance and the herd's")
	lat := Planned{Kind: h.FaultLatency, Delay: o.PongTimeout / 2}.Bounds(o, 5000)
	assert.False(t, lat.Disconnects)
	assert.NotEmpty(t, lat.NoReconnectWhy)
}

// TestRedialAfter measures the client's own delay from the later of its
// loss and the fault end.
func TestRedialAfter(t *testing.T) {
	ev := func(ms float64, kind client.EventKind) result.Event {
		return result.Event{TMS: ms, Source: result.SourceClient, Client: "c1", Kind: kind}
	}
	measure := func(start, end float64, events ...result.Event) *float64 {
		tl := &h.Timeline{Events: events, Faults: []result.Fault{{Kind: "x", StartMS: start, EndMS: end}}, Clients: []string{"c1"}, Options: effective(1)}
		return redialAfter(tl, tl.Measure("c1"))
	}
	// An outage from 1000 to 3000: lost at once, a refused dial during it,
	// then the pending timer fires 400 ms after the end.
	got := measure(1000, 3000, ev(1000, client.EventDisconnected), ev(1600, client.EventDialing),
		ev(1601, client.EventDisconnected), ev(3400, client.EventDialing), ev(3410, client.EventReady))
	require.NotNil(t, got)
	assert.InDelta(t, 400, *got, 1e-9)
	// A close at 1000: the client learns of it at 1200 and dials at 2000.
	got = measure(1000, 1000, ev(1200, client.EventDisconnected), ev(2000, client.EventDialing))
	require.NotNil(t, got)
	assert.InDelta(t, 800, *got, 1e-9)
	assert.Nil(t, measure(1000, 1000, ev(1200, client.EventDisconnected)), "never dialled again")
	// A dial that started during the outage and connects once it ends: the
	// client was not waiting.
	got = measure(1000, 3000, ev(1000, client.EventDisconnected), ev(2900, client.EventDialing), ev(3100, client.EventConnected))
	require.NotNil(t, got)
	assert.Zero(t, *got)
	// Back before the end step returned (the proxy listens before the
	// call that enables it returns): not waiting either.
	got = measure(1000, 3000, ev(1000, client.EventDisconnected), ev(2800, client.EventDialing), ev(2900, client.EventConnected))
	require.NotNil(t, got)
	assert.Zero(t, *got)
	// One that fails after the end does not count: the next dial does.
	got = measure(1000, 3000, ev(1000, client.EventDisconnected), ev(2900, client.EventDialing),
		ev(3050, client.EventDisconnected), ev(3500, client.EventDialing))
	require.NotNil(t, got)
	assert.InDelta(t, 500, *got, 1e-9)
	assert.Nil(t, measure(1000, 3000, ev(500, client.EventDialing)), "never lost the connection")
}

// TestInstantFaultRunsFromEachLoss: a close step that takes 1.4 s to return
// (as at 5,000 clients) must not hide the recovery of the clients it hit
// first, and an outage's targets follow the outage the clients really had.
func TestInstantFaultRunsFromEachLoss(t *testing.T) {
	c := newCoord(Options{Clients: 2}, Schedule{})
	ev := func(id string, ms float64, kind client.EventKind) result.Event {
		return result.Event{TMS: ms, Source: result.SourceClient, Client: id, Kind: kind}
	}
	c.clients[0].events = []result.Event{ev("c1", 1100, client.EventDisconnected), ev("c1", 1700, client.EventDialing),
		ev("c1", 1800, client.EventConnected), ev("c1", 1810, client.EventReady)}
	c.clients[1].events = []result.Event{ev("c2", 2500, client.EventDisconnected), ev("c2", 3200, client.EventDialing),
		ev("c2", 3290, client.EventConnected), ev("c2", 3300, client.EventReady)}
	w := result.Fault{Kind: KindClose1001, IssuedMS: 1000, StartMS: 2400, EndMS: 2400}
	raw, disc, rec := c.faultRaw(w, math.Inf(1), true, 0)
	fs := result.StressFault{Raw: &raw, Disconnected: disc, Recovered: rec}
	Aggregate(&fs, 2)
	require.Equal(t, 2, fs.Recover.N)
	assert.InDelta(t, 710, fs.Recover.P50, 1e-9, "c1 recovered 710 ms after its own loss, not 590 ms before the step returned")
	assert.InDelta(t, 900, fs.Recover.Max, 1e-9, "c2, hit after the step returned, counts from the end")
	assert.InDelta(t, 600, fs.Redial.P50, 1e-9)
	assert.InDelta(t, 700, fs.Redial.Max, 1e-9)
	assert.Equal(t, 2, fs.Disconnected)

	p := Planned{Kind: h.FaultProxyDown, For: 2 * time.Second}
	assert.Equal(t, 5*time.Second, p.asApplied(result.Fault{IssuedMS: 1000, StartMS: 4000, EndMS: 6000}).For,
		"clients were cut off from the issue at 1 s to the end at 6 s")
	assert.Equal(t, 2*time.Second, p.asApplied(result.Fault{StartMS: 1000, EndMS: 2500}).For, "never shorter than planned")
}

// TestEndStepRunsFromEachLoss: lifting a black hole that held thousands of
// connections takes seconds; a client whose held connection the lift
// closed early counts its recovery from that loss, not from the step's
// return, and one the step did not reach counts from the recorded end.
func TestEndStepRunsFromEachLoss(t *testing.T) {
	c := newCoord(Options{Clients: 2}, Schedule{})
	ev := func(id string, ms float64, kind client.EventKind) result.Event {
		return result.Event{TMS: ms, Source: result.SourceClient, Client: id, Kind: kind}
	}
	// The hole from 0 to 6,000 ms; its lift began at 2,000 ms.
	c.clients[0].events = []result.Event{ev("c1", 1000, client.EventDisconnected), ev("c1", 1500, client.EventDialing),
		ev("c1", 2100, client.EventDisconnected), ev("c1", 3100, client.EventDialing),
		ev("c1", 3200, client.EventConnected), ev("c1", 3300, client.EventReady)}
	c.clients[1].events = []result.Event{ev("c2", 1000, client.EventDisconnected), ev("c2", 1500, client.EventDialing),
		ev("c2", 6500, client.EventDisconnected), ev("c2", 7000, client.EventDialing),
		ev("c2", 7100, client.EventConnected), ev("c2", 7500, client.EventReady)}
	w := result.Fault{Kind: h.FaultBlackHole, IssuedMS: 0, StartMS: 0, EndMS: 6000}
	raw, _, rec := c.faultRaw(w, math.Inf(1), false, 2000)
	require.Equal(t, 2, rec)
	// c1 was back 1,200 ms after the lift closed its held dial at 2,100;
	// c2, reached after the step returned, 1,500 ms after the end.
	assert.Equal(t, result.Ints{1_200_000, 1_500_000}, raw.RecoverUS)
	assert.Equal(t, result.Ints{1_000_000, 1_000_000}, raw.RedialUS, "each from its own end")

	assert.Equal(t, 2000.0, stopBegan([]result.StressShardTiming{{StopMS: 2500}, {StopMS: 2000}, {}}))
	assert.Zero(t, stopBegan(nil))
}

// TestFinishWaitsForTheLastRecovery: the run drains only once every client
// has been ready for MinHealthyUptime, so a fault step that returned late
// does not cut off the recovery of the clients it reached last.
func TestFinishWaitsForTheLastRecovery(t *testing.T) {
	c := newCoord(Options{Clients: 1, Timescale: 0.02}, Schedule{})
	c.mu.Lock()
	readyAt := c.now()
	c.lifecycle(c.clients[0], result.Event{TMS: readyAt, Source: result.SourceClient, Client: "c1", Kind: result.KindReady})
	c.mu.Unlock()
	require.NoError(t, c.finish(t.Context()))
	healthy := msOf(c.eff.MinHealthyUptime)
	assert.GreaterOrEqual(t, c.drainAt, readyAt+healthy, "drained at %.1f ms, the client ready at %.1f ms for %.0f ms", c.drainAt, readyAt, healthy)
}

func processNames(rs []result.ProcessResources) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Process)
	}
	return out
}

// TestRunToxiproxyChain: the chain as it was, Toxiproxy embedded in each
// chain shard, still runs the schedule and passes.
func TestRunToxiproxyChain(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run takes about 15s")
	}
	rep, err := Run(t.Context(), Options{Clients: 20, Workers: 1, ChainShards: 2, Proxy: ProxyToxiproxy, InProcess: true,
		Duration: 12 * time.Second, Seed: 4, Timescale: 0.5})
	require.NoError(t, err)
	sc := rep.Scenario
	require.Empty(t, sc.Error)
	for _, c := range sc.Checks {
		assert.Equal(t, result.Pass, c.Verdict, "check %s: got %s, want %s (%s)", c.Name, c.Got, c.Want, c.Margin)
	}
	assert.Equal(t, ProxyToxiproxy, sc.Stress.Proxy)
	assert.Equal(t, "embedded", rep.ToxiproxyMode)
	require.NotEmpty(t, sc.Stress.Faults)
	assert.Len(t, sc.Stress.Faults[0].Shards, 2)
}
