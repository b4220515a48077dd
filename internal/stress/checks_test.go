package stress

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// TestContinuityCountsAsTheHarness: the sequence logs, rebuilt into events,
// give the harness's counts: lost, duplicated and reordered as they
// arrived, holes in the delivered range, and gaps the client was told of.
func TestContinuityCountsAsTheHarness(t *testing.T) {
	c := newCoord(Options{Clients: 2}, Schedule{})
	c1, c2 := c.clients[0], c.clients[1]
	for s := uint64(1); s <= 10; s++ {
		c1.upSent.add(s)
		c2.upSent.add(s)
		c2.srv.upGot.add(s)
	}
	for _, s := range []uint64{1, 2, 3, 5, 5, 4, 6, 7, 8, 9} {
		c1.srv.upGot.add(s)
	}
	// Down: c1 misses 3, which the server never wrote; c2 misses 3 and 4
	// and was told of both.
	for _, s := range []uint64{1, 2, 4} {
		c1.srv.downSent.add(s)
		c1.downGot.add(s)
	}
	for _, s := range []uint64{1, 2, 5} {
		c2.srv.downSent.add(s)
		c2.downGot.add(s)
	}
	c2.events = []result.Event{{TMS: 10, Source: result.SourceClient, Kind: result.KindGap, Client: "c2", Count: 2}}
	base := &h.Timeline{Options: c.eff}
	up, down := c1.timeline("c1", base).Flows("c1")
	assert.Equal(t, result.Flow{Sent: 10, Delivered: 9, Lost: 1, Duplicated: 1, Reordered: 1, Missing: []uint64{10}}, up)
	assert.Equal(t, 1, down.Lost, "a hole the server never wrote is lost too")
	_, down = c2.timeline("c2", base).Flows("c2")
	assert.Zero(t, down.Lost, "the gap accounts for the hole")
	assert.Equal(t, 2, down.Gap)

	var st result.StressStats
	tg, ch := c.continuity(&st)
	assert.Equal(t, "continuity", tg.Name)
	assert.Equal(t, result.Fail, ch.Verdict)
	assert.Equal(t, 20, st.Up.Sent)
	assert.Equal(t, 2, st.Up.Lost+st.Down.Lost)
	assert.Contains(t, ch.Margin, "c1 up: lost 1")
	assert.NotContains(t, ch.Margin, "c2")
	require.NotNil(t, ch.Value)
	assert.Equal(t, 4.0, *ch.Value, "up: lost, duplicated and reordered; down: lost")
}

func TestDelaysCheck(t *testing.T) {
	c := newCoord(Options{Clients: 2}, Schedule{})
	backoff := func(id string, attempt int, delayMS float64) result.Event {
		return result.Event{Source: result.SourceClient, Kind: result.KindBackoff, Client: id, Attempt: attempt, DelayMS: delayMS}
	}
	_, ch := c.delaysCheck()
	assert.Equal(t, result.NotApplicable, ch.Verdict, "no delay: nothing to judge, never a pass")

	lo, hi := c.eff.Backoff.Envelope(1)
	c.clients[0].events = []result.Event{backoff("c1", 1, msOf(lo+hi)/2)}
	_, ch = c.delaysCheck()
	assert.Equal(t, result.Pass, ch.Verdict, ch.Margin)

	c.clients[1].events = []result.Event{backoff("c2", 1, msOf(hi)+50)}
	_, ch = c.delaysCheck()
	assert.Equal(t, result.Fail, ch.Verdict)
	assert.Contains(t, ch.Margin, "c2: attempt 1")
	assert.Equal(t, "2 delays, 1 clients with one outside", ch.Got)
}

func TestChecksWithNothingToJudge(t *testing.T) {
	_, ch := herdCheck("f1-proxy-down-herd-spread", nil, 10, 5*time.Second, 0.5)
	assert.Equal(t, result.NotApplicable, ch.Verdict)
	_, ch = attemptsCheck("f1-proxy-down-attempts", result.Distribution{}, 4)
	assert.Equal(t, result.NotApplicable, ch.Verdict)
	b := h.NewBound(time.Second, "x")
	_, ch = p99Check("f1-proxy-down-recover", result.Distribution{}, 0, 10, b, "recovered")
	assert.Equal(t, result.Fail, ch.Verdict, "every client must have the figure: none is a failure, not n/a")
	assert.Equal(t, "10 clients never recovered", ch.Margin)
}

func TestHerdCheck(t *testing.T) {
	// 10 clients over a spread of 1 s: 10 windows, a share of 1 each, a
	// limit of 3 per window (the catalogue's 2 plus an allowance of 1).
	spread := time.Second
	even := []float64{5000, 5100, 5200, 5300, 5400, 5500, 5600, 5700, 5800, 5900}
	tg, ch := herdCheck("herd", even, 10, spread, 0.5)
	assert.Equal(t, 3.0, tg.Limit)
	assert.Equal(t, 2.0, tg.Bound)
	assert.Equal(t, 1.0, tg.Allowance)
	assert.Equal(t, result.Pass, ch.Verdict)
	bunched := []float64{5000, 5001, 5002, 5003, 5500, 5600, 5700, 5800, 5900, 5950}
	_, ch = herdCheck("herd", bunched, 10, spread, 0.5)
	assert.Equal(t, result.Fail, ch.Verdict)
	require.NotNil(t, ch.Value)
	assert.Equal(t, 4.0, *ch.Value)
}

func TestP99Check(t *testing.T) {
	b := herd(h.Bound{D: 2 * time.Second, Reason: "pending delay"})
	tg, ch := p99Check("r", h.Distribute([]float64{100, 200, 2900}), 3, 3, b, "recovered")
	assert.Equal(t, 3000.0, tg.Limit)
	assert.Equal(t, 2000.0, tg.Bound)
	assert.Equal(t, 1000.0, tg.Allowance)
	assert.Equal(t, result.UnitMS, tg.Unit)
	assert.Equal(t, result.Pass, ch.Verdict)
	assert.Equal(t, 2900.0, *ch.Value)
	_, ch = p99Check("r", h.Distribute([]float64{100, 200, 3100}), 3, 3, b, "recovered")
	assert.Equal(t, result.Fail, ch.Verdict)
	assert.Equal(t, "p99 missed by 100 ms", ch.Margin)
}
