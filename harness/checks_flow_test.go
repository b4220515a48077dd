package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/result"
)

func serverRecv(t float64) result.Event {
	return result.Event{TMS: t, Source: result.SourceServer, Kind: result.KindRecv, Client: "c1"}
}

func TestFlowsAgain(t *testing.T) {
	b := NewBound(300*time.Millisecond, "test")
	tl := sampleTimeline() // fault ends at 1500; c1 receives at 1700
	c := FlowsAgainWithin(b).Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict, "nothing reached the server after the end: %+v", c)

	tl.Events = append(tl.Events, serverRecv(1650))
	c = FlowsAgainWithin(b).Eval(tl)
	assert.Equal(t, result.Pass, c.Verdict, "%+v", c)
	require.NotNil(t, c.Value)
	assert.InDelta(t, 200, *c.Value, 1e-9, "the later of the two directions: 1700 - 1500")

	tl.Events = append(tl.Events[:len(tl.Events)-2], serverRecv(1650), recv(1900))
	c = FlowsAgainWithin(b).Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict, "400 ms is past a 300 ms bound + allowance: %+v", c)

	tl.Events = append(tl.Events, result.Event{Source: result.SourceHarness, Kind: result.KindOutside, Client: "c1"})
	assert.Equal(t, result.NotApplicable, FlowsAgainWithin(b).Eval(tl).Verdict)
}

func TestFlowsAgainBound(t *testing.T) {
	o := client.Options{PingInterval: 200 * time.Millisecond, PongTimeout: 150 * time.Millisecond, AckTimeout: 350 * time.Millisecond,
		HandshakeTimeout: time.Second, CloseGrace: 100 * time.Millisecond,
		Backoff: client.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}}
	assert.Equal(t, 450*time.Millisecond, StalledConnBound(o).D)
	assert.Equal(t, time.Second, LostSYNBound(o).D)
	b := FlowsAgainBound(o, LostSYNBound(o), 2*time.Second, 50*time.Millisecond, 1)
	assert.Equal(t, time.Second+time.Second+Handshake+50*time.Millisecond, b.D, "lost SYN + capped delay + handshake + interval")
	assert.Contains(t, b.Reason, "HandshakeTimeout 1s")
}

func TestNoFalseDetection(t *testing.T) {
	o := client.Options{PingInterval: 200 * time.Millisecond, PongTimeout: 150 * time.Millisecond}
	hb := func(at float64) result.Event {
		e := ce(at, result.KindDisconnected)
		e.Cause = result.CauseHeartbeat
		return e
	}
	tl := sampleTimeline() // last delivery before the fault at 990, loss at 1300 (not a heartbeat)
	assert.Equal(t, result.NotApplicable, NoFalseDetection(o).Eval(tl).Verdict, "no heartbeat loss to judge")

	tl.Events[4] = hb(1345) // 355 ms after the last frame
	c := NoFalseDetection(o).Eval(tl)
	assert.Equal(t, result.Pass, c.Verdict, "%+v", c)

	tl.Events[4] = hb(1200) // 210 ms after the last frame
	c = NoFalseDetection(o).Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict, "%+v", c)
	assert.Contains(t, c.Margin, "after 210 ms of silence")
}
