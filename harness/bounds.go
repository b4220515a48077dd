package harness

import (
	"fmt"
	"time"

	"github.com/wschaos/wschaos/client"
)

// Targets are bounds derived from the client's profile plus a stated
// allowance for measurement error. The helpers here derive the bounds the
// catalogue uses; scenario authors in other modules use them the same way:
//
//	harness.DetectSilenceWithin(harness.HeartbeatBound(o))
//	harness.RecoverWithin(harness.PendingDelay(o, outage).Plus(harness.OneHandshake()))

// AllowanceFraction and AllowanceFloor make every time target's allowance:
// 10 % of the bound plus 25 ms. The harness measures within about 3 ms of
// the truth (TestGroundTruth); the rest covers scheduling on a loaded
// 2-core machine. A slow machine stretches the profile (Scale), never the
// allowance.
const (
	AllowanceFraction = 0.10
	AllowanceFloor    = 25 * time.Millisecond
)

// AtOnce is the bound for what a client must do "at once", with no timer
// involved (end a connection on a reader error or a close frame): one
// delivery through the chain and the scheduling of a few goroutines.
const AtOnce = 25 * time.Millisecond

// Handshake is the bound for one loopback connection and WebSocket upgrade
// with its first round trip (hello/welcome): recovery targets include one.
// Measured at 3-5 ms on an idle machine; the bound leaves room for a busy
// one.
const Handshake = 50 * time.Millisecond

// Allowance is the measurement allowance for a bound of d.
func Allowance(d time.Duration) time.Duration {
	return time.Duration(float64(d)*AllowanceFraction) + AllowanceFloor
}

// Bound is a time target: what the configuration promises (D, and the
// reason it is that long) and the allowance for measurement error.
type Bound struct {
	D         time.Duration
	Reason    string
	Allowance time.Duration
	// AllowanceReason says where an allowance other than the standard one
	// comes from, with the measurement that sized it (the stress run's herd
	// allowance, say); empty for the standard Allowance(D).
	AllowanceReason string
}

// NewBound is a bound of d for the stated reason, with the standard
// allowance.
func NewBound(d time.Duration, reason string) Bound {
	return Bound{D: d, Reason: reason, Allowance: Allowance(d)}
}

// Limit is the bound plus its allowance: the most a figure may be.
func (b Bound) Limit() time.Duration { return b.D + b.Allowance }

// Why states where the limit comes from: the bound's reason and the
// allowance's.
func (b Bound) Why() string {
	why := b.AllowanceReason
	if why == "" {
		why = fmt.Sprintf("10%% of %v + 25ms, for measurement and scheduling", b.D)
	}
	return fmt.Sprintf("%s; + allowance %v (%s)", b.Reason, b.Allowance.Round(time.Millisecond/10), why)
}

// Plus adds another bound's time and reason; the allowance is recomputed
// for the sum, and is the standard one.
func (b Bound) Plus(o Bound) Bound {
	return NewBound(b.D+o.D, b.Reason+" + "+o.Reason)
}

// Scale stretches every duration of a profile and a schedule, and so
// every bound derived from them: a slow machine, the race detector, or
// production timings. 0 means 1.
type Scale float64

// D scales one duration.
func (k Scale) D(d time.Duration) time.Duration {
	if k == 0 {
		return d
	}
	return time.Duration(float64(d) * float64(k))
}

// HeartbeatBound is the worst-case dead-peer detection the profile
// promises, counted from the last inbound frame: PingInterval +
// PongTimeout.
func HeartbeatBound(o client.Options) Bound {
	return NewBound(o.PingInterval+o.PongTimeout, fmt.Sprintf("PingInterval %v + PongTimeout %v", o.PingInterval, o.PongTimeout))
}

// FirstRetry is the longest first retry delay of the profile.
func FirstRetry(o client.Options) Bound {
	_, hi := o.Backoff.Envelope(1)
	return NewBound(hi, fmt.Sprintf("first retry at most %v after the loss", hi))
}

// PendingDelay is the longest backoff delay the profile can have pending
// when an outage of the given length ends.
func PendingDelay(o client.Options, outage time.Duration) Bound {
	d := WorstDelayAfter(o, outage)
	return NewBound(d, fmt.Sprintf("longest backoff delay pending when a %v outage ends: %v", outage, d))
}

// OneHandshake is the bound for one loopback connection with its first
// round trip, scaled by k.
func OneHandshake(k Scale) Bound {
	return NewBound(k.D(Handshake), fmt.Sprintf("one handshake %v", k.D(Handshake)))
}

// AtOnceBound is the bound for something done at once, scaled by k.
func AtOnceBound(k Scale, what string) Bound {
	return NewBound(k.D(AtOnce), fmt.Sprintf("%s: no timer involved, one delivery through the chain (%v)", what, k.D(AtOnce)))
}

// Recovery is the recovery bound after an outage: the longest delay that
// can be pending when it ends, plus one handshake.
func Recovery(o client.Options, outage time.Duration, k Scale) Bound {
	return PendingDelay(o, outage).Plus(OneHandshake(k))
}

// DrainTime is how long a run waits, once the workload and the push have
// stopped, for the messages in flight to arrive: one unacknowledged for
// AckTimeout is sent again, and a client that lost its connection meanwhile
// waits out at most the backoff cap and a handshake before it can.
func DrainTime(o client.Options) time.Duration {
	return o.AckTimeout + o.Backoff.Max + o.HandshakeTimeout
}

// WorstDelayAfter bounds the backoff delay a client can be waiting out at
// `window` after it lost its connection: it counts the most retries that
// can fit in the window (each taking at least its shortest delay) and
// returns the longest delay of the next one.
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

// AttemptsWithin bounds how many connection attempts a client following
// its policy can make in window after a loss: every retry waits at least
// its shortest delay, plus the attempt that finally succeeds.
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
