package harness

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wschaos/wschaos/client"
)

// Profile is the timing contract a client declares: how it notices a dead
// peer and how it reconnects. An outside client is held to its own
// declared profile, not the reference client's, so that a client with a
// 25 s heartbeat is judged against 25 s (and given faults long enough to
// show it) rather than failed against 200 ms. The catalogue derives its
// fault schedule and every target from it (scenarios.CatalogFor).
//
// A heartbeat is declared when PingInterval and PongTimeout are both
// positive; either 0 declares none, and the half-open scenarios then fail
// the client as never detecting the silence, which is the finding.
type Profile struct {
	// PingInterval is how often (or after how much silence) the client
	// pings; PongTimeout how long it then waits for an answer before it
	// declares the connection dead.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// HandshakeTimeout bounds the client's dial and upgrade.
	HandshakeTimeout time.Duration
	// The reconnect delay before retry n is in
	// [base*(1-BackoffJitter), base], base = min(BackoffInitial *
	// BackoffMultiplier^(n-1), BackoffMax). Multiplier 1 and jitter 0 state
	// a fixed delay.
	BackoffInitial    time.Duration
	BackoffMax        time.Duration
	BackoffMultiplier float64
	BackoffJitter     float64
}

var errNoHeartbeatReference = errors.New("harness: the scenario declares no heartbeat, which only an outside client (RunOptions.Command) can run: the reference client always has one")

// MaxProfileDuration bounds every duration of a declared profile: the
// catalogue's faults last a few times the profile, and a run must end.
const MaxProfileDuration = 10 * time.Minute

// ProfileError says which field of a declared profile is wrong and what is
// allowed. Field is the name the profile file uses (ping_interval, say);
// the wschaos command's flag is the same with dashes.
type ProfileError struct {
	Field   string
	Problem string
}

func (e *ProfileError) Error() string { return "harness: profile field " + e.Field + ": " + e.Problem }

// Heartbeat reports whether the profile declares a heartbeat.
func (p Profile) Heartbeat() bool { return p.PingInterval > 0 && p.PongTimeout > 0 }

// HeartbeatSpan is PingInterval + PongTimeout, the longest silence the
// heartbeat lets pass; 0 without a heartbeat.
func (p Profile) HeartbeatSpan() time.Duration {
	if !p.Heartbeat() {
		return 0
	}
	return p.PingInterval + p.PongTimeout
}

// Validate reports every field that is out of range, each a
// *ProfileError, joined.
func (p Profile) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ProfileError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	for _, d := range []struct {
		field    string
		v        time.Duration
		positive bool
	}{
		{"ping_interval", p.PingInterval, false},
		{"pong_timeout", p.PongTimeout, false},
		{"handshake_timeout", p.HandshakeTimeout, true},
		{"backoff_initial", p.BackoffInitial, true},
		{"backoff_max", p.BackoffMax, true},
	} {
		switch {
		case d.positive && d.v <= 0:
			bad(d.field, "is %v; want a positive duration such as 1s, at most %v", d.v, MaxProfileDuration)
		case d.v < 0:
			bad(d.field, "is %v; want 0 (no heartbeat) or a positive duration, at most %v", d.v, MaxProfileDuration)
		case d.v > MaxProfileDuration:
			bad(d.field, "is %v; want at most %v", d.v, MaxProfileDuration)
		}
	}
	if p.BackoffInitial > 0 && p.BackoffMax > 0 && p.BackoffInitial > p.BackoffMax {
		bad("backoff_max", "is %v, below backoff_initial %v; want backoff_max >= backoff_initial", p.BackoffMax, p.BackoffInitial)
	}
	if m := p.BackoffMultiplier; math.IsNaN(m) || math.IsInf(m, 0) || m < 1 || m > 100 {
		bad("backoff_multiplier", "is %v; want 1 (a fixed delay) to 100", m)
	}
	if j := p.BackoffJitter; math.IsNaN(j) || j < 0 || j > 1 {
		bad("backoff_jitter", "is %v; want a fraction from 0 (none) to 1", j)
	}
	return errors.Join(errs...)
}

// ProfileFrom states a client's options (defaults applied) as a declared
// profile: how the reference client's profile reads in these terms.
func ProfileFrom(o client.Options) Profile {
	b := o.Backoff
	jitter := b.Jitter
	if b.NoJitter {
		jitter = 0
	}
	return Profile{PingInterval: o.PingInterval, PongTimeout: o.PongTimeout, HandshakeTimeout: o.HandshakeTimeout,
		BackoffInitial: b.Initial, BackoffMax: b.Max, BackoffMultiplier: b.Multiplier, BackoffJitter: jitter}
}

// Apply returns o with the profile's fields set. Without a heartbeat
// PingInterval and PongTimeout are left 0: a scenario run with it must set
// NoHeartbeat, so that the harness holds them as none instead of the
// reference client's defaults.
func (p Profile) Apply(o client.Options) client.Options {
	o.PingInterval, o.PongTimeout = 0, 0
	if p.Heartbeat() {
		o.PingInterval, o.PongTimeout = p.PingInterval, p.PongTimeout
	}
	o.HandshakeTimeout = p.HandshakeTimeout
	o.Backoff = client.Backoff{Initial: p.BackoffInitial, Max: p.BackoffMax, Multiplier: p.BackoffMultiplier,
		Jitter: p.BackoffJitter, NoJitter: p.BackoffJitter == 0}
	return o
}
