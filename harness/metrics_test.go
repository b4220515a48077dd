package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/reports"
)

func ce(t float64, kind client.EventKind) reports.Event {
	return reports.Event{TMS: t, Source: SourceClient, Client: "c1", Kind: string(kind)}
}

func recv(t float64) reports.Event {
	return reports.Event{TMS: t, Source: SourceClient, Client: "c1", Kind: KindReceived}
}

// A fault from 1000 to 1500 ms: the client declares the loss at 1300, dials
// twice and is ready at 1620.
func sampleTimeline() *Timeline {
	lost := ce(1300, client.EventDisconnected)
	lost.Code = 1006
	return &Timeline{
		Clients: []string{"c1"},
		Faults:  []reports.Fault{{Kind: "black-hole", StartMS: 1000, EndMS: 1500}},
		Events: []reports.Event{
			ce(10, client.EventDialing), ce(20, client.EventReady),
			recv(900), recv(990),
			lost,
			ce(1301, client.EventBackoff), ce(1400, client.EventDialing),
			ce(1450, client.EventBackoff), ce(1600, client.EventDialing), ce(1620, client.EventReady),
			recv(1700),
		},
	}
}

func TestMeasure(t *testing.T) {
	tl := sampleTimeline()
	m := tl.Measure("c1")
	require.NotNil(t, m.Detect(tl))
	assert.InDelta(t, 300, *m.Detect(tl), 1e-9)
	require.NotNil(t, m.Recover(tl))
	assert.InDelta(t, 120, *m.Recover(tl), 1e-9)
	require.NotNil(t, m.Downtime())
	assert.InDelta(t, 630, *m.Downtime(), 1e-9, "recovered 1620 - last delivery 990")
	assert.Equal(t, 2, m.Attempts)
	assert.Equal(t, 1, m.Reconnects)
	assert.Equal(t, []int{1006}, m.Codes)
}

// A client that reconnected during the fault and is ready when it ends has
// recovered at the fault end.
func TestMeasureReadyAtFaultEnd(t *testing.T) {
	tl := &Timeline{
		Clients: []string{"c1"},
		Faults:  []reports.Fault{{Kind: "latency", StartMS: 100, EndMS: 1000}},
		Events: []reports.Event{
			ce(10, client.EventReady), ce(400, client.EventDisconnected),
			ce(500, client.EventDialing), ce(600, client.EventReady),
		},
	}
	m := tl.Measure("c1")
	require.NotNil(t, m.Recover(tl))
	assert.InDelta(t, 0, *m.Recover(tl), 1e-9)
}

func TestMeasureNoLoss(t *testing.T) {
	tl := &Timeline{
		Clients: []string{"c1"},
		Faults:  []reports.Fault{{Kind: "latency", StartMS: 100, EndMS: 1000}},
		Events:  []reports.Event{ce(10, client.EventReady), recv(500)},
	}
	m := tl.Measure("c1")
	assert.Nil(t, m.Detect(tl))
	assert.Nil(t, m.Recover(tl))
	assert.Equal(t, 0, m.Disconnects)
}

func TestChecks(t *testing.T) {
	tl := sampleTimeline()
	ok := DetectWithin(350*time.Millisecond, "bound").Eval(tl)
	assert.True(t, ok.OK, "%+v", ok)
	assert.Equal(t, "300 ms of a 350 ms budget", ok.Margin)

	miss := DetectWithin(250*time.Millisecond, "bound").Eval(tl)
	assert.False(t, miss.OK)
	assert.Equal(t, "300 ms", miss.Got)
	assert.Equal(t, "<= 250 ms", miss.Want)
	assert.Equal(t, "missed by 50 ms", miss.Margin)

	assert.True(t, RecoverWithin(120*time.Millisecond, "").Eval(tl).OK)
	assert.False(t, RecoverWithin(119*time.Millisecond, "").Eval(tl).OK)
	assert.False(t, NoReconnect("").Eval(tl).OK)
	assert.True(t, SawCloseCode(1006, "").Eval(tl).OK)
	assert.False(t, SawCloseCode(1000, "").Eval(tl).OK)
}

func TestCheckNeverDetected(t *testing.T) {
	tl := &Timeline{
		Clients: []string{"c1"},
		Faults:  []reports.Fault{{Kind: "black-hole", StartMS: 100, EndMS: 1000}},
		Events:  []reports.Event{ce(10, client.EventReady)},
	}
	c := DetectWithin(time.Second, "").Eval(tl)
	assert.False(t, c.OK)
	assert.Contains(t, c.Got, "never")
}

func TestWorstDelayAfter(t *testing.T) {
	o := client.Options{Backoff: client.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}}
	// Shortest delays 50, 100, 200, 400 ms: three fit in 400 ms, so the
	// fourth retry (at most 800 ms) may be pending.
	assert.Equal(t, 800*time.Millisecond, WorstDelayAfter(o, 400*time.Millisecond))
	assert.Equal(t, 100*time.Millisecond, WorstDelayAfter(o, 10*time.Millisecond))
	assert.Equal(t, time.Second, WorstDelayAfter(o, time.Hour))
}

func TestScenarioValidate(t *testing.T) {
	bad := Scenario{Name: "bad/name", Faults: []Fault{{Kind: "x", For: time.Second, Start: ProxyDown(0, 0).Start}}}
	err := bad.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CamelCase")
	assert.Contains(t, err.Error(), "no checks")
	assert.Contains(t, err.Error(), "has no stop")
}

// Server messages 1..5: 3 was written and never arrived, 4 was never
// written and the client was told one message was lost.
func TestFlowsAndGap(t *testing.T) {
	ev := func(src, kind string, seq uint64) reports.Event {
		return reports.Event{Source: src, Client: "c1", Kind: kind, Seq: seq}
	}
	tl := &Timeline{Clients: []string{"c1"}, Events: []reports.Event{
		ev(SourceServer, "send", 1), ev(SourceClient, KindReceived, 1),
		ev(SourceServer, "send", 2), ev(SourceClient, KindReceived, 2),
		ev(SourceServer, "send", 3),
		ev(SourceClient, string(client.EventGap), 1),
		ev(SourceServer, "send", 5), ev(SourceClient, KindReceived, 5), ev(SourceClient, KindReceived, 5),
		ev(SourceClient, KindSent, 1), ev(SourceServer, "recv", 1),
	}}
	up, down := tl.Flows("c1")
	assert.Equal(t, 1, up.Sent)
	assert.Zero(t, up.Lost)
	assert.Equal(t, 1, down.Lost, "3 was written and lost; 4 is the reported gap")
	assert.Equal(t, []uint64{3}, down.Missing)
	assert.Equal(t, 1, down.Duplicated)
	assert.Equal(t, 1, down.Gap)

	c := GapReported("").Eval(tl)
	assert.False(t, c.OK, "told 1 lost, 2 missing: %+v", c)
	assert.Contains(t, c.Margin, "told 1 lost, 2 missing")
	assert.False(t, NoLoss("").Eval(tl).OK)
}
