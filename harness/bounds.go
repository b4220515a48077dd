package harness

import (
	"time"

	"github.com/wschaos/wschaos/client"
)

// AtOnce is the allowance for something the client must do "at once", such
// as ending a connection on a reader error: no timer is involved, so the
// bound is the time a loaded machine takes to schedule the goroutines.
const AtOnce = 100 * time.Millisecond

// WorstDelayAfter bounds the backoff delay a client can be waiting out at
// `window` after it lost its connection: it counts the most retries that can
// fit in the window (each taking at least its shortest delay) and returns
// the longest delay of the next one. It is how recovery targets are derived
// from the configuration rather than picked.
func WorstDelayAfter(o client.Options, window time.Duration) time.Duration {
	var elapsed time.Duration
	for attempt := 1; ; attempt++ {
		lo, hi := o.Backoff.Envelope(attempt)
		elapsed += lo
		if elapsed > window || hi >= o.Backoff.Max || attempt > 64 {
			return hi
		}
	}
}

// AttemptsWithin bounds how many connection attempts a client following its
// policy can make in window after a loss: every retry waits at least its
// shortest delay, plus the attempt that finally succeeds.
func AttemptsWithin(o client.Options, window time.Duration) int {
	var elapsed time.Duration
	n := 0
	for attempt := 1; attempt <= 1<<16; attempt++ {
		lo, _ := o.Backoff.Envelope(attempt)
		elapsed += lo
		if elapsed > window {
			break
		}
		n++
	}
	return n + 1
}
