package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/result"
)

// crossTimeline: the client dials conn 1 at 10 (tap connect 11), declares
// it lost at 1300 and closes its socket at 1340 (CloseGrace 50), dials
// again at 1400 (tap connect 1401); that dial is refused by the network at
// 1402, the third dial at 1500 (tap connect 1501) succeeds.
func crossTimeline() *Timeline {
	cev := func(t float64, kind result.Kind, conn uint64) result.Event {
		e := ce(t, kind)
		e.Conn = conn
		return e
	}
	return &Timeline{
		Clients: []string{"c1"},
		Options: client.Options{CloseGrace: 50 * time.Millisecond},
		Faults:  []result.Fault{{Kind: FaultProxyDown, StartMS: 1000, EndMS: 1450}},
		Events: []result.Event{
			cev(10, result.KindDialing, 1), tapEv(11, result.KindTapConnect, 1), cev(20, result.KindReady, 1),
			cev(1300, result.KindDisconnected, 1), tapEv(1340, result.KindTapClientClose, 1), tapEv(1341, result.KindTapClosed, 1),
			cev(1400, result.KindDialing, 2), tapEv(1401, result.KindTapConnect, 2),
			tapEv(1402, result.KindTapRefused, 2), tapEv(1402, result.KindTapClosed, 2), cev(1403, result.KindDisconnected, 2),
			cev(1500, result.KindDialing, 3), tapEv(1501, result.KindTapConnect, 3), cev(1520, result.KindReady, 3),
		},
	}
}

func TestCrossCheckAgrees(t *testing.T) {
	c := CrossCheck(Bound{D: 10 * time.Millisecond}).Eval(crossTimeline())
	assert.Equal(t, result.Pass, c.Verdict, "%+v", c)
	assert.Equal(t, "3 dials, 2 losses; off by at most 1 ms (dial) and 1 ms (loss)", c.Got)
}

// Doctored timelines, each with one disagreement the tap can see.
func TestCrossCheckDisagrees(t *testing.T) {
	for name, doctor := range map[string]func(tl *Timeline){
		"loss reported long before the socket closed": func(tl *Timeline) { tl.Events[3].TMS = 1200 },
		"socket closed before the loss was declared":  func(tl *Timeline) { tl.Events[3].TMS = 1360 },
		"loss reported long after the network ended":  func(tl *Timeline) { tl.Events[10].TMS = 1450 },
		"dial with no connection on the wire":         func(tl *Timeline) { tl.Events[7].TMS = 1480 },
		"connection the client never reported": func(tl *Timeline) {
			tl.Events = append(tl.Events, tapEv(1600, result.KindTapConnect, 4))
		},
		"loss of a connection still open": func(tl *Timeline) {
			tl.Events = append(tl.Events[:4], tl.Events[6:]...) // no client-close, no closed
		},
	} {
		t.Run(name, func(t *testing.T) {
			tl := crossTimeline()
			doctor(tl)
			c := CrossCheck(Bound{D: 10 * time.Millisecond}).Eval(tl)
			assert.Equal(t, result.Fail, c.Verdict, "got %+v, want a failed cross-check", c)
			assert.NotEmpty(t, c.Margin)
		})
	}
}

func TestCrossCheckNotApplicable(t *testing.T) {
	tl := crossTimeline()
	tl.Clients = []string{"c1", "c2"}
	c := CrossCheck(Bound{D: 10 * time.Millisecond}).Eval(tl)
	assert.Equal(t, result.NotApplicable, c.Verdict, "%+v", c)

	tl = crossTimeline()
	tl.Events = append(tl.Events, result.Event{Source: result.SourceHarness, Kind: result.KindOutside, Client: "c1"})
	c = CrossCheck(Bound{D: 10 * time.Millisecond}).Eval(tl)
	assert.Equal(t, result.NotApplicable, c.Verdict, "%+v", c)
}

// On real sockets the reference client's account and the tap's agree.
func TestCrossCheckOnRealRuns(t *testing.T) {
	checks := func(o client.Options) []Check {
		return []Check{CrossCheck(AtOnceBound(1, "the client's events and the tap's are taken on one clock"))}
	}
	for _, sc := range []Scenario{
		{Name: "CrossProxyDownFIN", Faults: []Fault{ProxyDown(300*time.Millisecond, 25*time.Millisecond)}},
		{Name: "CrossBlackHoleHalfOpen", Faults: []Fault{BlackHole(300*time.Millisecond, 500*time.Millisecond)}},
		{Name: "CrossDialRefused", Faults: []Fault{DialRefused(300 * time.Millisecond)}},
	} {
		sc.Client = quickProfile()
		sc.Server = fakeserver.Options{PushInterval: 20 * time.Millisecond}
		sc.Checks = checks
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			res := Run(t.Context(), sc, RunOptions{Seed: 1})
			require.Empty(t, res.Error)
			c := checkNamed(t, res, "cross-check")
			assert.Equal(t, result.Pass, c.Verdict, "%+v", c)
			assert.NotContains(t, c.Got, "0 losses", "the fault must have caused a loss to compare")
			t.Log(c.Got)
		})
	}
}

// linkedTimeline is crossTimeline behind a packet link: the close of conn 1
// crossed the link 400 ms late, a fourth dial at 1600 never crossed it
// (handshake timeout at 2600), and the link's counters are on the timeline.
func linkedTimeline() *Timeline {
	tl := crossTimeline()
	tl.Events[4].TMS, tl.Events[5].TMS = 1700, 1701
	dial, lost := ce(1600, result.KindDialing), ce(2600, result.KindDisconnected)
	dial.Conn, lost.Conn = 4, 4
	tl.Events = append(tl.Events, dial, lost,
		result.Event{TMS: 5, Source: result.SourceLink, Kind: result.KindLinkStats, Packets: &result.LinkPackets{}})
	return tl
}

func TestCrossCheckAcrossLink(t *testing.T) {
	b := Bound{D: 10 * time.Millisecond}
	c := CrossCheck(b).Eval(linkedTimeline())
	assert.Equal(t, result.Pass, c.Verdict, "%+v", c)
	assert.Contains(t, c.Got, "4 dials, 2 losses, in order across the packet link (1 dials never crossed it")
	assert.Contains(t, c.Want, "same order across the packet link")
	assert.Contains(t, CrossCheck(b).Eval(crossTimeline()).Want, "socket closed within CloseGrace", "the target of a run without a link is unchanged")

	for name, doctor := range map[string]func(tl *Timeline){
		"socket closed before the loss was declared": func(tl *Timeline) { tl.Events[3].TMS = 1750 },
		"loss declared before the network ended it":  func(tl *Timeline) { tl.Events[10].TMS = 1300 },
		"upgraded with no tap connect": func(tl *Timeline) {
			ev := ce(1700, result.KindConnected)
			ev.Conn = 4
			tl.Events = append(tl.Events, ev)
		},
		"connection the client never reported": func(tl *Timeline) {
			tl.Events = append(tl.Events, tapEv(2700, result.KindTapConnect, 5))
		},
	} {
		t.Run(name, func(t *testing.T) {
			tl := linkedTimeline()
			doctor(tl)
			c := CrossCheck(b).Eval(tl)
			assert.Equal(t, result.Fail, c.Verdict, "got %+v, want a failed cross-check", c)
		})
	}
}
