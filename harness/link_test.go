package harness

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet/segment"
	"github.com/wschaos/wschaos/result"
)

// lossScenario loses 10% of the packets both ways for d, from before the
// first dial when initial, else after warm-up.
func lossScenario(d time.Duration, initial bool) Scenario {
	f := PacketLoss(100*time.Millisecond, d, 0.10)
	f.Initial = initial
	o := quickProfile()
	// A lost SYN is retried after TCP's 1 s: give the dial room for one.
	o.HandshakeTimeout = 3 * time.Second
	return Scenario{
		Name: "Lossy", Client: o,
		Server: fakeserver.Options{PushInterval: 20 * time.Millisecond},
		Faults: []Fault{f},
		Checks: func(o client.Options) []Check {
			return []Check{FlowsAgainWithin(FlowsAgainBound(o, LostSYNBound(o), d, 20*time.Millisecond, 1)), NoLoss("continuity")}
		},
	}
}

func TestLinkRunRecordsPackets(t *testing.T) {
	res := Run(t.Context(), lossScenario(time.Second, false), RunOptions{Seed: 3})
	require.Empty(t, res.Error)
	assert.Equal(t, result.Pass, res.Verdict, "%+v", res.Checks)
	require.Len(t, res.Faults, 1)
	assert.Equal(t, result.LayerPacket, res.Faults[0].Layer)
	assert.Equal(t, FaultPacketLoss, res.Faults[0].Kind)
	assert.Contains(t, res.Faults[0].Text, "loss 10% both ways")

	require.NotNil(t, res.Link, "the link's final counters")
	for _, p := range []result.Packets{res.Link.Up, res.Link.Down} {
		assert.NotZero(t, p.Sent)
		assert.NotZero(t, p.Dropped, "10%% loss for 1 s drops packets")
		assert.LessOrEqual(t, p.Dropped, p.Sent)
	}

	var stats []result.Event
	noted := false
	for _, e := range res.Timeline {
		switch e.Kind {
		case result.KindLinkStats:
			assert.Equal(t, result.SourceLink, e.Source)
			require.NotNil(t, e.Packets)
			stats = append(stats, e)
		case result.KindNote:
			noted = noted || strings.Contains(e.Text, "its own TCP meets the packet faults")
		}
	}
	assert.True(t, noted, "the timeline says where the link sits")
	// On change, at most every LinkStatsEvery, plus the first and the last:
	// a run of about 2 s has more than a few and fewer than one per 10 ms.
	assert.Greater(t, len(stats), 5)
	assert.Less(t, len(stats), int(res.DurationMS/10))
	for i := 1; i < len(stats); i++ {
		assert.GreaterOrEqual(t, stats[i].Packets.Up.Sent, stats[i-1].Packets.Up.Sent, "counters only grow")
	}
	assert.Equal(t, *res.Link, *stats[len(stats)-1].Packets, "the last sample is the final count")
}

// trace collects a link's decisions per direction.
type trace struct {
	mu  sync.Mutex
	dec [2][]PacketDecision
}

func (tr *trace) add(d PacketDecision) {
	tr.mu.Lock()
	tr.dec[d.Dir] = append(tr.dec[d.Dir], d)
	tr.mu.Unlock()
}

// drops is which of the first n packets of dir were dropped.
func (tr *trace) drops(t *testing.T, dir segment.Direction, n int) []bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.GreaterOrEqual(t, len(tr.dec[dir]), n, "%v: too few packets to compare", dir)
	out := make([]bool, n)
	for i, d := range tr.dec[dir][:n] {
		require.Equal(t, uint64(i), d.Index)
		out[i] = d.Drop != segment.NotDropped
	}
	return out
}

// TestLinkSeedReplays proves the harness seeds the link with the run's
// seed: two runs of a scenario with the same seed drop exactly the same
// packets, by index, among the first of each direction, and a run with
// another seed drops others. Decisions depend on the seed and the packet's
// index alone (whatever the packets hold), and the loss here is in force
// from before the first packet, so the comparison does not depend on TCP's
// timing; the totals over a whole run do (how many packets the traffic
// made), and are only logged.
func TestLinkSeedReplays(t *testing.T) {
	const n = 60
	runs := map[string]*trace{"a": {}, "b": {}, "other": {}}
	var wg sync.WaitGroup
	for name, tr := range runs {
		seed := int64(11)
		if name == "other" {
			seed = 12
		}
		wg.Go(func() {
			sc := lossScenario(1500*time.Millisecond, true)
			sc.Link = &LinkOptions{Trace: tr.add}
			res := Run(t.Context(), sc, RunOptions{Seed: seed})
			assert.Empty(t, res.Error)
			if assert.NotNil(t, res.Link) {
				t.Logf("seed %d (%s): dropped up %d of %d, down %d of %d", seed, name,
					res.Link.Up.Dropped, res.Link.Up.Sent, res.Link.Down.Dropped, res.Link.Down.Sent)
			}
		})
	}
	wg.Wait()
	for _, dir := range []segment.Direction{segment.Up, segment.Down} {
		a, b, other := runs["a"].drops(t, dir, n), runs["b"].drops(t, dir, n), runs["other"].drops(t, dir, n)
		assert.Equal(t, a, b, "%v: the same seed drops the same packets", dir)
		assert.NotEqual(t, a, other, "%v: another seed drops others", dir)
		assert.Contains(t, a, true, "%v: 10%% loss drops some of %d packets", dir, n)
	}
}

func TestPacketFaultsMustNotOverlap(t *testing.T) {
	check := func(o client.Options) []Check { return nil }
	sc := Scenario{Name: "Overlap", Checks: check, Faults: []Fault{
		PacketLoss(100*time.Millisecond, time.Second, 0.1),
		Duplicate(500*time.Millisecond, time.Second, 0.1),
		Latency(0, time.Second, 10*time.Millisecond), // another layer composes
	}}
	err := sc.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "packet faults 1 (packet-loss) and 2 (packet-duplicate) overlap")

	sc.Faults[1].At = 1100 * time.Millisecond
	assert.NoError(t, sc.Validate(), "back to back is fine")
	sc.Faults[0].Initial = true
	sc.Faults[1].At = 900 * time.Millisecond
	assert.Error(t, sc.Validate(), "an initial fault counts from the start")

	sc = Scenario{Name: "Big", Checks: check, MessageSize: MaxMessageSize + 1}
	assert.ErrorContains(t, sc.Validate(), "message size")
}

func TestUsesLink(t *testing.T) {
	sc := Scenario{Faults: []Fault{ProxyDown(0, time.Second)}}
	assert.False(t, sc.UsesLink())
	sc.Faults = append(sc.Faults, MTUBlackHole(0, time.Second, 1280))
	assert.True(t, sc.UsesLink())
	assert.True(t, (&Scenario{Link: &LinkOptions{}}).UsesLink())
}

func TestDescribePackets(t *testing.T) {
	assert.Equal(t, "loss 5% both ways", DescribePackets(PacketFaults{Loss: 0.05}, PacketFaults{Loss: 0.05}))
	assert.Equal(t, "up: none; down: black hole", DescribePackets(PacketFaults{}, PacketFaults{Blackhole: true}))
	assert.Equal(t, "burst loss (Gilbert-Elliott: to bad 2%, to good 10%, loss 0% good, 100% bad) both ways",
		DescribePackets(PacketFaults{Burst: PacketBurst{ToBad: 0.02, ToGood: 0.1}}, PacketFaults{Burst: PacketBurst{ToBad: 0.02, ToGood: 0.1}}))
	assert.Equal(t, "up: MTU black hole 1280 B, delay 10ms ± 2ms, duplicate 1%; down: 1000 B/s, corrupt 3%, reorder 50%",
		DescribePackets(PacketFaults{MTUBlackhole: 1280, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Duplicate: 0.01},
			PacketFaults{Bandwidth: 1000, Corrupt: 0.03, Reorder: 0.5}))
}

func TestPacketFaultWithoutLink(t *testing.T) {
	var env Env
	assert.ErrorIs(t, env.SetPacketFaults(PacketFaults{Loss: 0.1}, PacketFaults{}), errNoLink)
	_, ok := env.LinkStats()
	assert.False(t, ok)
}

func TestLinkRefusesBadFaults(t *testing.T) {
	sc := lossScenario(time.Second, false)
	sc.Faults = []Fault{PacketLoss(100*time.Millisecond, time.Second, 1.5)}
	res := Run(t.Context(), sc, RunOptions{Seed: 1})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "not a probability")
}

func TestOutsideClientOverLink(t *testing.T) {
	sc := lossScenario(time.Second, false)
	sc.Faults = []Fault{Duplicate(200*time.Millisecond, time.Second, 0.2)}
	sc.Checks = func(o client.Options) []Check { return []Check{NoReconnect("duplicates are TCP's to drop")} }
	res := Run(t.Context(), sc, RunOptions{Seed: 1, Command: helperCommand("reference")})
	require.Empty(t, res.Error)
	assert.Equal(t, result.Pass, res.Verdict, "%+v", res.Checks)
	var note string
	for _, e := range res.Timeline {
		if e.Kind == result.KindNote && strings.Contains(e.Text, "entry relay") {
			note = e.Text
		}
	}
	assert.Contains(t, note, "its kernel TCP ends there", "the report says where an outside client's TCP ends")
	require.NotNil(t, res.Link)
	assert.NotZero(t, res.Link.Up.Duplicated+res.Link.Down.Duplicated)
}

// An outside client dials the tap, in front of the link: when every
// SYN-ACK towards it is lost, its connect still ends at the tap at once and
// its upgrade waits on the link; the tap sees it give up, before the server
// ever saw the connection, as a handshake timeout.
func TestOutsideClientOverLossyHalfOpen(t *testing.T) {
	sc := Scenario{
		Name: "OutsideLossyHalfOpen", Client: quickProfile(),
		Server:       fakeserver.Options{PushInterval: 20 * time.Millisecond},
		SendInterval: -1,
		Faults:       []Fault{PacketBlackHole(200*time.Millisecond, 1500*time.Millisecond, false)},
		Checks: func(o client.Options) []Check {
			return []Check{
				// The wire sees the socket close, within CloseGrace of the loss.
				DetectSilenceWithin(HeartbeatBound(o).Plus(NewBound(o.CloseGrace, "CloseGrace"))),
				GivesUpWithin(result.CauseHandshakeTimeout, NewBound(o.HandshakeTimeout, "HandshakeTimeout")),
			}
		},
	}
	res := Run(t.Context(), sc, RunOptions{Seed: 1, Command: helperCommand("reference")})
	require.Empty(t, res.Error)
	assert.Equal(t, result.Pass, res.Verdict, "%+v", res.Checks)
	gives := checkNamed(t, res, "gives-up")
	assert.Equal(t, result.ViaWire, gives.Via)
}
