package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/result"
)

func ce(t float64, kind result.Kind) result.Event {
	return result.Event{TMS: t, Source: result.SourceClient, Client: "c1", Kind: kind}
}

func recv(t float64) result.Event { return ce(t, result.KindReceived) }

// A fault from 1000 to 1500 ms: the client declares the loss at 1300, dials
// twice and is ready at 1620.
func sampleTimeline() *Timeline {
	lost := ce(1300, result.KindDisconnected)
	lost.Code = 1006
	return &Timeline{
		Clients: []string{"c1"},
		Faults:  []result.Fault{{Index: 1, Kind: FaultBlackHole, StartMS: 1000, EndMS: 1500}},
		Events: []result.Event{
			ce(10, result.KindDialing), ce(20, result.KindReady),
			recv(900), recv(990),
			lost,
			ce(1301, result.KindBackoff), ce(1400, result.KindDialing),
			ce(1450, result.KindBackoff), ce(1600, result.KindDialing), ce(1620, result.KindReady),
			recv(1700),
		},
	}
}

func TestMeasure(t *testing.T) {
	tl := sampleTimeline()
	m := tl.Measure("c1")
	require.NotNil(t, m.Detect(tl))
	assert.InDelta(t, 300, *m.Detect(tl), 1e-9)
	require.NotNil(t, m.DetectFromSilence())
	assert.InDelta(t, 310, *m.DetectFromSilence(), 1e-9, "detected 1300 - last delivery 990")
	require.NotNil(t, m.Recover(tl))
	assert.InDelta(t, 120, *m.Recover(tl), 1e-9)
	require.NotNil(t, m.Downtime())
	assert.InDelta(t, 630, *m.Downtime(), 1e-9, "recovered 1620 - last delivery 990")
	assert.Equal(t, 2, m.Attempts)
	assert.Equal(t, 1, m.Reconnects)
	assert.Len(t, m.Delays, 2)
}

// The wire knows better than the client's deliveries: an ack the tap passed
// on after the last push moves the start of the silence.
func TestSilenceFromTheTap(t *testing.T) {
	tl := sampleTimeline()
	tl.Events = append(tl.Events,
		result.Event{TMS: 1001, Source: result.SourceTap, Kind: result.KindTapClientClose, Conn: 1, LastDownMS: 1010},
		// Bytes the tap passed after the detection do not count.
		result.Event{TMS: 1400, Source: result.SourceTap, Kind: result.KindTapClosed, Conn: 2, LastDownMS: 1350})
	m := tl.Measure("c1")
	require.NotNil(t, m.SilenceFrom)
	assert.InDelta(t, 1010, *m.SilenceFrom, 1e-9)
	assert.InDelta(t, 290, *m.DetectFromSilence(), 1e-9)
	assert.Equal(t, result.Pass, DetectSilenceWithin(NewBound(265*time.Millisecond, "bound")).Eval(tl).Verdict, "290 <= 265 + 26.5 + 25")
	assert.Equal(t, result.Fail, DetectSilenceWithin(NewBound(200*time.Millisecond, "bound")).Eval(tl).Verdict)
}

// A client that reconnected during the fault and is ready when it ends has
// recovered at the fault end.
func TestMeasureReadyAtFaultEnd(t *testing.T) {
	tl := &Timeline{
		Clients: []string{"c1"},
		Faults:  []result.Fault{{Kind: FaultLatency, StartMS: 100, EndMS: 1000}},
		Events: []result.Event{
			ce(10, result.KindReady), ce(400, result.KindDisconnected),
			ce(500, result.KindDialing), ce(600, result.KindReady),
		},
	}
	m := tl.Measure("c1")
	require.NotNil(t, m.Recover(tl))
	assert.InDelta(t, 0, *m.Recover(tl), 1e-9)
}

func TestMeasureNoLoss(t *testing.T) {
	tl := &Timeline{
		Clients: []string{"c1"},
		Faults:  []result.Fault{{Kind: FaultLatency, StartMS: 100, EndMS: 1000}},
		Events:  []result.Event{ce(10, result.KindReady), recv(500)},
	}
	m := tl.Measure("c1")
	assert.Nil(t, m.Detect(tl))
	assert.Nil(t, m.Recover(tl))
	assert.Equal(t, 0, m.Disconnects)
}

// The harness's own teardown (cause stopped) is not the client's doing.
func TestTeardownIgnored(t *testing.T) {
	tl := sampleTimeline()
	stop := ce(1310, result.KindDisconnected)
	stop.Cause = result.CauseStopped
	tl.Events = append(tl.Events, stop)
	assert.Equal(t, 1, tl.Measure("c1").Disconnects)
}

func TestChecks(t *testing.T) {
	tl := sampleTimeline()
	ok := DetectWithin(NewBound(300*time.Millisecond, "bound")).Eval(tl)
	assert.Equal(t, result.Pass, ok.Verdict, "%+v", ok)
	assert.Equal(t, "300 ms of a 355 ms budget", ok.Margin, "300 + 10% + 25")
	require.NotNil(t, ok.Value)
	assert.InDelta(t, 300, *ok.Value, 1e-9)

	miss := DetectWithin(NewBound(200*time.Millisecond, "bound")).Eval(tl)
	assert.Equal(t, result.Fail, miss.Verdict)
	assert.Equal(t, "300 ms", miss.Got)
	assert.Equal(t, "<= 245 ms", miss.Want)
	assert.Equal(t, "missed by 55 ms", miss.Margin)

	assert.Equal(t, result.Pass, RecoverWithin(Bound{D: 120 * time.Millisecond}).Eval(tl).Verdict)
	assert.Equal(t, result.Fail, RecoverWithin(Bound{D: 119 * time.Millisecond}).Eval(tl).Verdict)
	assert.Equal(t, result.Fail, NoReconnect("").Eval(tl).Verdict)
	assert.Equal(t, result.Pass, SawCloseCode(1006, "").Eval(tl).Verdict)
	assert.Equal(t, result.Fail, SawCloseCode(1000, "").Eval(tl).Verdict)
}

func TestAllowance(t *testing.T) {
	b := HeartbeatBound(client.Options{PingInterval: 200 * time.Millisecond, PongTimeout: 150 * time.Millisecond})
	assert.Equal(t, 350*time.Millisecond, b.D)
	assert.Equal(t, 60*time.Millisecond, b.Allowance, "10% of 350 ms + 25 ms")
	assert.LessOrEqual(t, b.Limit(), 350*time.Millisecond*11/10+25*time.Millisecond)
	assert.Contains(t, b.Why(), "PingInterval 200ms + PongTimeout 150ms")
	assert.Contains(t, b.Why(), "allowance 60ms")
}

func TestCheckNeverDetected(t *testing.T) {
	tl := &Timeline{
		Clients: []string{"c1"},
		Faults:  []result.Fault{{Kind: FaultBlackHole, StartMS: 100, EndMS: 1000}},
		Events:  []result.Event{ce(10, result.KindReady), recv(3000)},
	}
	c := DetectWithin(NewBound(time.Second, "")).Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "never detected within 2900 ms", c.Got, "the run went on 2900 ms after the fault")
	assert.Equal(t, "held to <= 1125 ms; c1: nothing to measure", c.Margin)

	// A loss declared only when the half-open connection was closed at the
	// fault's end is not the heartbeat's: never detected within the fault.
	tl.Events = []result.Event{ce(10, result.KindReady), ce(1003, result.KindDisconnected), recv(3000)}
	c = DetectSilenceWithin(NewBound(10*time.Second, "")).Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Equal(t, "never detected within 900 ms", c.Got)
	assert.Equal(t, result.Pass, DetectWithin(NewBound(time.Second, "")).Eval(tl).Verdict, "detect counts from the fault, whatever ended it")
	tl.Events[1].TMS = 999
	assert.Equal(t, result.Pass, DetectSilenceWithin(NewBound(10*time.Second, "")).Eval(tl).Verdict, "noticed while the fault lasted")
	tl.Faults[0].StopIssuedMS = 990
	assert.Equal(t, result.Fail, DetectSilenceWithin(NewBound(10*time.Second, "")).Eval(tl).Verdict,
		"lost as the harness was ending the fault: the removal closed it")

	// A client that never lost its connection has nothing to recover from.
	tl.Events = []result.Event{ce(10, result.KindReady), recv(3000)}
	rec := RecoverWithin(NewBound(time.Second, "")).Eval(tl)
	assert.Equal(t, result.NotApplicable, rec.Verdict, "%+v", rec)
	assert.Equal(t, "c1: never lost its connection: nothing to recover from", rec.Margin)
	tl.Events = []result.Event{ce(10, result.KindReady), ce(500, result.KindDisconnected), recv(3000)}
	assert.Equal(t, "never recovered within 2900 ms", RecoverWithin(NewBound(time.Second, "")).Eval(tl).Got, "lost before the fault, never back")
	tl.Events = []result.Event{ce(10, result.KindReady), ce(150, result.KindDisconnected),
		{TMS: 444, Source: result.SourceClient, Kind: result.KindReturned, Client: "c1", Text: "exited: status 0"}, recv(3000)}
	assert.Contains(t, RecoverWithin(NewBound(time.Second, "")).Eval(tl).Margin, "c1 ended on its own at 444 ms (exited: status 0)")

	tl.Faults[0].EndMS = 30100
	tl.Events = []result.Event{ce(10, result.KindReady), recv(40000)}
	assert.Equal(t, "never detected within 30.0 s", DetectSilenceWithin(NewBound(time.Second, "")).Eval(tl).Got)
}

// A check with nothing to judge is n/a, never a pass.
func TestNothingToJudge(t *testing.T) {
	quiet := &Timeline{
		Clients: []string{"c1"}, Options: quickProfile(),
		Faults: []result.Fault{{Kind: FaultLatency, StartMS: 100, EndMS: 1000}},
		Events: []result.Event{ce(10, result.KindDialing), ce(20, result.KindReady)},
	}
	for _, c := range []Check{
		DelaysWithinPolicy(""), BackoffNotReset(""), SpreadAtCap(""),
		HerdSpread(100*time.Millisecond, time.Second, ""), StableAfterRecovery(""),
	} {
		got := c.Eval(quiet)
		assert.Equal(t, result.NotApplicable, got.Verdict, "%s: %+v", c.Target.Name, got)
		assert.NotEmpty(t, got.Margin, "%s must say why", c.Target.Name)
	}
}

func TestJudge(t *testing.T) {
	pass := result.Check{Verdict: result.Pass}
	fail := result.Check{Verdict: result.Fail}
	na := result.Check{Verdict: result.NotApplicable}
	definingNA := result.Check{Verdict: result.NotApplicable, Defining: true}
	assert.Equal(t, result.Pass, Judge([]result.Check{pass, na}))
	assert.Equal(t, result.Fail, Judge([]result.Check{definingNA, fail}))
	assert.Equal(t, result.NotApplicable, Judge([]result.Check{definingNA, pass}))
	assert.Equal(t, result.NotApplicable, Judge([]result.Check{na, na}))
	assert.Equal(t, result.NotApplicable, Judge(nil))
}

func TestDelaysAgainstTheirEnvelope(t *testing.T) {
	tl := sampleTimeline()
	tl.Options = quickProfile() // 50 ms x2 up to 200 ms, jitter 0.5
	tl.Events[5].Attempt, tl.Events[5].DelayMS = 1, 40
	tl.Events[7].Attempt, tl.Events[7].DelayMS = 2, 20
	m := tl.Summary()
	require.Len(t, m.Delays, 2)
	assert.Equal(t, result.Delay{Client: "c1", AtMS: 1301, Attempt: 1, DelayMS: 40, LoMS: 25, HiMS: 50, InPolicy: true}, m.Delays[0])
	assert.False(t, m.Delays[1].InPolicy, "20 ms is below [50, 100]")
	c := DelaysWithinPolicy("").Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict)
	assert.Contains(t, c.Margin, "attempt 2: 20 ms outside [50 ms, 100 ms]")
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
	bad := Scenario{Name: "bad/name", Faults: []Fault{{Kind: "x", For: time.Second, Start: ProxyDown(0, 0).Start, Layer: "disk"}}}
	err := bad.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CamelCase")
	assert.Contains(t, err.Error(), "no checks")
	assert.Contains(t, err.Error(), "has no stop")
	assert.Contains(t, err.Error(), `layer "disk"`)
}

func flowEvent(src result.Source, kind result.Kind, seq uint64) result.Event {
	return result.Event{Source: src, Client: "c1", Kind: kind, Seq: seq}
}

// Server messages 1..5: 3 was written and never arrived, 4 was never
// written and the client was told one message was lost.
func TestFlowsAndGap(t *testing.T) {
	gap := flowEvent(result.SourceClient, result.KindGap, 0)
	gap.Count = 1
	tl := &Timeline{Clients: []string{"c1"}, Events: []result.Event{
		flowEvent(result.SourceServer, result.KindSend, 1), flowEvent(result.SourceClient, result.KindReceived, 1),
		flowEvent(result.SourceServer, result.KindSend, 2), flowEvent(result.SourceClient, result.KindReceived, 2),
		flowEvent(result.SourceServer, result.KindSend, 3),
		gap,
		flowEvent(result.SourceServer, result.KindSend, 5), flowEvent(result.SourceClient, result.KindReceived, 5),
		flowEvent(result.SourceClient, result.KindReceived, 5),
		flowEvent(result.SourceClient, result.KindSent, 1), flowEvent(result.SourceServer, result.KindRecv, 1),
	}}
	up, down := tl.Flows("c1")
	assert.Equal(t, 1, up.Sent)
	assert.Zero(t, up.Lost)
	assert.Equal(t, 1, down.Lost, "3 was written and lost; 4 is the reported gap")
	assert.Equal(t, []uint64{3}, down.Missing)
	assert.Equal(t, 1, down.Duplicated)
	assert.Equal(t, 1, down.Gap)

	c := GapReported("").Eval(tl)
	assert.Equal(t, result.Fail, c.Verdict, "told 1 lost, 2 missing: %+v", c)
	assert.Contains(t, c.Margin, "told 1 lost, 2 missing")
	assert.Equal(t, result.Fail, NoLoss("").Eval(tl).Verdict)
}

// Messages the client gave up on and said so are not lost; the fatal
// scenarios hold the reported set to what the server never received.
func TestUndeliveredReported(t *testing.T) {
	events := func(reported ...uint64) *Timeline {
		und := flowEvent(result.SourceClient, result.KindUndelivered, 0)
		und.Seqs, und.Count = reported, uint64(len(reported))
		return &Timeline{Clients: []string{"c1"}, Events: []result.Event{
			flowEvent(result.SourceClient, result.KindSent, 1), flowEvent(result.SourceServer, result.KindRecv, 1),
			flowEvent(result.SourceClient, result.KindSent, 2), flowEvent(result.SourceClient, result.KindSent, 3),
			und,
		}}
	}
	exact := events(2, 3)
	up, _ := exact.Flows("c1")
	assert.Zero(t, up.Lost)
	assert.Equal(t, 2, up.Undelivered)
	assert.Equal(t, result.Pass, UndeliveredReported("").Eval(exact).Verdict)

	silent := UndeliveredReported("").Eval(events(3))
	assert.Equal(t, result.Fail, silent.Verdict)
	assert.Contains(t, silent.Margin, "1 never received and not reported (seq [2])")

	wrong := UndeliveredReported("").Eval(events(1, 2, 3))
	assert.Equal(t, result.Fail, wrong.Verdict)
	assert.Contains(t, wrong.Margin, "1 reported that the server had (seq [1])")
}

// A delay read off the wire may look up to AtOnce shorter than the client's
// own (its timer starts before the tap sees its socket close) and
// wireSlack longer; past those it is out of policy.
func TestWireDelaysAgainstTheirEnvelope(t *testing.T) {
	tl := sampleTimeline()
	tl.Options = quickProfile() // attempt 2: [50 ms, 100 ms]
	lo, hi := 50.0, 100.0
	for _, c := range []struct {
		delay float64
		in    bool
	}{
		{lo - ms(AtOnce) + 1, true},
		{lo - ms(AtOnce) - 1, false},
		{hi + ms(wireSlack) - 1, true},
		{hi + ms(wireSlack) + 1, false},
	} {
		e := result.Event{Client: "c1", Kind: result.KindBackoff, Attempt: 2, DelayMS: c.delay, Via: result.ViaWire}
		d := tl.delayOf(e)
		assert.Equal(t, c.in, d.InPolicy, "%v ms read off the wire against [%v, %v]", c.delay, lo, hi)
		e.Via = ""
		assert.False(t, tl.delayOf(e).InPolicy, "%v ms from the client's own events against [%v, %v]", c.delay, lo, hi)
	}
}
