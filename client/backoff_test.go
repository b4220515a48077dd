package client

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoffDelayWithinEnvelope(t *testing.T) {
	policies := []Backoff{
		{},
		{Initial: time.Millisecond, Max: time.Hour, Multiplier: 1.6, Jitter: 0.2},
		{Initial: 500 * time.Millisecond, Max: 500 * time.Millisecond, Multiplier: 1},
		{Initial: 10 * time.Millisecond, Max: 5 * time.Second, NoJitter: true},
		{Initial: time.Nanosecond, Max: time.Duration(math.MaxInt64), Multiplier: 10, Jitter: 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, b := range policies {
		for attempt := 1; attempt <= 100_000; attempt++ {
			u := rng.Float64()
			d := b.Delay(attempt, u)
			lo, hi := b.Envelope(attempt)
			if d < lo || d > hi || d <= 0 {
				t.Fatalf("%+v attempt %d u %v: got %v, want within [%v, %v] and > 0", b, attempt, u, d, lo, hi)
			}
		}
	}
}

func TestBackoffHugeAttempts(t *testing.T) {
	b := Backoff{} // defaults: 100ms, 10s, x2, jitter 0.5
	for _, attempt := range []int{64, 1000, 1e9, math.MaxInt} {
		for _, u := range []float64{0, 0.5, math.Nextafter(1, 0), 1, -1, math.NaN()} {
			d := b.Delay(attempt, u)
			require.GreaterOrEqual(t, d, 5*time.Second, "attempt %d u %v", attempt, u)
			require.LessOrEqual(t, d, 10*time.Second, "attempt %d u %v", attempt, u)
		}
		lo, hi := b.Envelope(attempt)
		assert.Equal(t, 5*time.Second, lo)
		assert.Equal(t, 10*time.Second, hi)
	}
	for _, attempt := range []int{0, -5, math.MinInt} {
		assert.Equal(t, 100*time.Millisecond, b.Delay(attempt, 0), "attempt %d counts as the first", attempt)
	}
}

// At the cap the delays stay spread over about Jitter*Max.
func TestBackoffSpreadAtCap(t *testing.T) {
	b := Backoff{}
	rng := rand.New(rand.NewPCG(3, 4))
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for range 10_000 {
		d := b.Delay(1e9, rng.Float64())
		lo, hi = min(lo, d), max(hi, d)
	}
	assert.InDelta(t, float64(5*time.Second), float64(hi-lo), float64(50*time.Millisecond), "spread: got %v..%v", lo, hi)
}

func TestBackoffFirstRetry(t *testing.T) {
	b := Backoff{}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10_000 {
		d := b.Delay(1, rng.Float64())
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, 100*time.Millisecond)
	}
	nj := Backoff{NoJitter: true}
	assert.Equal(t, 100*time.Millisecond, nj.Delay(1, 0.9))
	assert.Equal(t, 200*time.Millisecond, nj.Delay(2, 0.9))
	assert.Equal(t, 10*time.Second, nj.Delay(100, 0.9))
}

func TestBackoffMinimum(t *testing.T) {
	b := Backoff{Initial: time.Nanosecond, Max: time.Microsecond, Jitter: 1}
	assert.Equal(t, time.Millisecond, b.Delay(1, 0.999))
	lo, hi := b.Envelope(1)
	assert.Equal(t, time.Millisecond, lo)
	assert.Equal(t, time.Millisecond, hi)
}
