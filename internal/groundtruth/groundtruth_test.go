package groundtruth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRetryInstants(t *testing.T) {
	b := client.Backoff{Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond, Multiplier: 2, NoJitter: true}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 300 * ms, 600 * ms, 900 * ms}, retryInstants(b, 700*ms),
		"no jitter: Initial, then doubling up to Max, summed; up to the first instant past the limit")
}

func TestFigure(t *testing.T) {
	exact := Figure{Got: 110, Lo: 100, Hi: 100, Tol: 5}
	assert.True(t, exact.Exact())
	assert.InDelta(t, 10, exact.Error(), 1e-9)
	assert.False(t, exact.OK())
	exact.Stall = 6
	assert.True(t, exact.OK(), "a measured stall of the machine widens the allowance")
	assert.Equal(t, "100.0 ± (5.0 + stall 6.0) ms", exact.Want())

	window := Figure{Got: 325, Lo: 330, Hi: 350, Tol: 3}
	assert.False(t, window.Exact())
	assert.InDelta(t, -5, window.Error(), 1e-9)
	assert.Equal(t, "[330.0, 350.0] ± 3.0 ms", window.Want())
	window.Got = 340
	assert.Zero(t, window.Error())
	assert.True(t, window.OK())

	assert.Equal(t, []float64{10}, Errors([]Figure{exact, window}), "only exact figures count as error")
}

func TestTolerance(t *testing.T) {
	assert.InDelta(t, 35, Tolerance(100, 1), 1e-9)
	assert.InDelta(t, 105, Tolerance(300, 3), 1e-9)
}

func TestProbeWindow(t *testing.T) {
	p := startProbe()
	p.close() // the goroutine is gone (goleak checks); the window logic is what is left
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p.stalls = []stall{{woke: at(10), late: 4 * time.Millisecond}, {woke: at(50), late: 40 * time.Millisecond}, {woke: at(90), late: 7 * time.Millisecond}}
	assert.Equal(t, 40*time.Millisecond, p.worstBetween(at(0), at(100)))
	assert.Equal(t, 7*time.Millisecond, p.worstBetween(at(60), at(100)), "a stall that ended before the window did not delay it")
	assert.Equal(t, 4*time.Millisecond, p.worstBetween(at(0), at(49)), "a stall that ended after the window could not delay what was recorded in it")
	assert.Zero(t, p.worstBetween(at(91), at(200)))
}
