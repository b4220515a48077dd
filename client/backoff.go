package client

import (
	"math"
	"time"
)

// Backoff is the reconnect delay policy: exponential growth from Initial by
// Multiplier up to Max, then jitter. Jitter is applied after the cap, so delays
// at the cap stay spread over [Max*(1-Jitter), Max] and a herd of clients that
// lost the same server does not come back in lockstep.
//
// The zero value means the defaults.
type Backoff struct {
	// Initial is the first retry delay before jitter. Defaults to 100ms.
	Initial time.Duration
	// Max caps the delay before jitter. Defaults to 10s.
	Max time.Duration
	// Multiplier is the growth factor per attempt. Defaults to 2. Must be >= 1.
	Multiplier float64
	// Jitter is the fraction, in [0,1], of each delay that is random: the delay
	// is uniform in [d*(1-Jitter), d]. Defaults to 0.5; set NoJitter for none.
	Jitter float64
	// NoJitter asks for Jitter 0 explicitly (a zero Jitter means the default).
	NoJitter bool
}

// minDelay is the smallest delay Delay returns: never 0, so a long run of
// failures can never turn into a hot loop.
const minDelay = time.Millisecond

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Multiplier == 0 || math.IsNaN(b.Multiplier) || b.Multiplier < 1 {
		b.Multiplier = 2
	}
	if b.NoJitter {
		b.Jitter = 0
	} else if b.Jitter <= 0 || math.IsNaN(b.Jitter) {
		b.Jitter = 0.5
	} else if b.Jitter > 1 {
		b.Jitter = 1
	}
	return b
}

// capped returns the delay for attempt before jitter, in nanoseconds, as a
// float64 that is finite, positive and at most Max. The exponent is compared
// against the number of steps to the cap before any power is taken, so no
// attempt count, however large, overflows.
func (b Backoff) capped(attempt int) float64 {
	if attempt < 1 {
		attempt = 1
	}
	initial, max := float64(b.Initial), float64(b.Max)
	if initial >= max {
		return max
	}
	if b.Multiplier <= 1 {
		return initial
	}
	steps := math.Log(max/initial) / math.Log(b.Multiplier)
	exp := float64(attempt - 1)
	if exp >= steps {
		return max
	}
	d := initial * math.Pow(b.Multiplier, exp)
	if !(d <= max) { // also catches NaN
		return max
	}
	return d
}

// Delay returns the delay before retry number attempt (1 is the first retry),
// with u, uniform in [0,1), as the jitter draw. Defaults apply to zero fields.
// The result is never below 1ms, never NaN and never above Max, whatever the
// attempt count.
func (b Backoff) Delay(attempt int, u float64) time.Duration {
	b = b.withDefaults()
	if !(u >= 0) { // NaN or negative
		u = 0
	}
	if u >= 1 {
		u = math.Nextafter(1, 0)
	}
	d := b.capped(attempt)
	return toDuration(d * (1 - b.Jitter*u))
}

// Envelope returns the bounds, inclusive, of what Delay(attempt, u) can
// return for any u in [0,1). The harness checks observed delays against it.
func (b Backoff) Envelope(attempt int) (lo, hi time.Duration) {
	b = b.withDefaults()
	d := b.capped(attempt)
	return toDuration(d * (1 - b.Jitter)), toDuration(d)
}

// toDuration converts nanoseconds to a Duration in [minDelay, MaxInt64]:
// a float64 at or above 2^63 does not convert to int64 safely.
func toDuration(ns float64) time.Duration {
	switch {
	case !(ns >= float64(minDelay)): // also catches NaN
		return minDelay
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}
