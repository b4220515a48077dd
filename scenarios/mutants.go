package scenarios

import (
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/quirks"
)

// Mutant is a deliberately broken variant of the reference client, built
// from its own options and quirks. The suite must catch every one: each
// names the scenarios and checks that must fail against it.
type Mutant struct {
	Name        string
	Description string
	Mutate      func(*client.Options)
	// CaughtBy maps scenario names to the check that must fail there.
	CaughtBy harness.Expect
}

// quirk is a Mutate that switches on deliberate defects through the
// client's internal hook.
func quirk(q quirks.Set) func(*client.Options) {
	return func(o *client.Options) { quirks.Attach(o, q) }
}

// Mutants returns the built-in mutant clients.
func Mutants() []Mutant {
	return append(append(classicMutants(), tightMutants()...), packetMutants()...)
}

// packetMutants are defects only a lossy packet link reveals: Toxiproxy
// and the wire tap accept every TCP connection on loopback at once (or
// refuse it), so no byte-stream fault makes a connect wait on TCP itself.
func packetMutants() []Mutant {
	return []Mutant{
		{
			Name: "NoConnectTimeout", Description: "bounds its handshake only once TCP is connected: a connect whose SYN-ACK is lost waits on TCP's own retries (1 s, 3 s, 7 s...)",
			Mutate:   quirk(quirks.Set{UnboundedConnect: true}),
			CaughtBy: harness.Expect{"LossyHalfOpen": "gives-up"},
		},
	}
}

// tightMutants are off their own configuration by a little (a fifth) or
// wrong in one decision; the targets must be tight enough to catch them.
func tightMutants() []Mutant {
	return []Mutant{
		{
			Name: "SlowHeartbeat", Description: "declares a silent peer dead at 1.2x its configured PingInterval + PongTimeout",
			Mutate:   func(o *client.Options) { o.PongTimeout += (o.PingInterval + o.PongTimeout) / 5 },
			CaughtBy: harness.Expect{"BlackHoleHalfOpen": "detect", "MutedPongs": "detect"},
		},
		{
			Name: "SlowAckTimeout", Description: "waits 1.2x its configured AckTimeout for its messages to be acknowledged",
			Mutate: func(o *client.Options) {
				ack := o.AckTimeout
				if ack == 0 {
					ack = o.PingInterval + o.PongTimeout // the default
				}
				o.AckTimeout = ack * 6 / 5
			},
			CaughtBy: harness.Expect{"BlackHoleUpstream": "detect"},
		},
		{
			Name: "OutboundLiveness", Description: "counts its own writes (messages, pings) as liveness instead of what arrives",
			Mutate:   quirk(quirks.Set{LivenessOnOutbound: true}),
			CaughtBy: harness.Expect{"MutedPongs": "detect"},
		},
		{
			Name: "FlatBackoff", Description: "backs off without ever growing the delay (multiplier 1)",
			Mutate:   func(o *client.Options) { o.Backoff.Multiplier = 1 },
			CaughtBy: harness.Expect{"LongOutage": "delays-in-policy", "DialRefused": "delays-in-policy"},
		},
		{
			Name: "UncappedBackoff", Description: "lets the backoff delay grow past its cap",
			Mutate:   func(o *client.Options) { o.Backoff.Max = time.Hour },
			CaughtBy: harness.Expect{"LongOutage": "delays-in-policy"},
		},
		{
			Name: "GivesUpEarly", Description: "stops for good after one failed reconnect",
			Mutate:   quirk(quirks.Set{GiveUpAfterRetry: true}),
			CaughtBy: harness.Expect{"DialRefused": "recover", "LongOutage": "recover"},
		},
		{
			Name: "Ignores1013", Description: "ignores the wait a 1013 close asks for (honours Retry-After)",
			Mutate:   quirk(quirks.Set{IgnoreCloseHint: true}),
			CaughtBy: harness.Expect{"TryAgainLater1013": "waits-hint"},
		},
		{
			Name: "ResendsOutOfOrder", Description: "resends unacknowledged messages newest first after a reconnect",
			Mutate:   quirk(quirks.Set{ResendReversed: true}),
			CaughtBy: harness.Expect{"BlackHoleHalfOpen": "continuity"},
		},
		{
			Name: "UnboundedOutbox", Description: "accepts every message however many are queued: no backpressure",
			Mutate:   quirk(quirks.Set{UnboundedOutbox: true}),
			CaughtBy: harness.Expect{"OutboxBackpressure": "backpressure"},
		},
		{
			Name: "SilentFatal", Description: "drops its unacknowledged messages without a word when the server ends the session",
			Mutate:   quirk(quirks.Set{SilentFatal: true}),
			CaughtBy: harness.Expect{"Reject401": "undelivered-reported", "LoggedOut4401": "undelivered-reported"},
		},
	}
}

// classicMutants are the bugs most often reported against real clients.
func classicMutants() []Mutant {
	return []Mutant{
		{
			Name: "NoHeartbeat", Description: "never pings and never declares a silent connection dead",
			Mutate:   quirk(quirks.Set{NoHeartbeat: true}),
			CaughtBy: harness.Expect{"BlackHoleHalfOpen": "detect", "MutedPongs": "detect"},
		},
		{
			Name: "SlowPongTimeout", Description: "waits ten times too long for a pong",
			Mutate:   func(o *client.Options) { o.PongTimeout *= 10 },
			CaughtBy: harness.Expect{"BlackHoleHalfOpen": "detect", "MutedPongs": "detect"},
		},
		{
			Name: "NoAckTimeout", Description: "trusts the link while data arrives, however long its own messages go unacknowledged",
			Mutate:   func(o *client.Options) { o.AckTimeout = time.Hour },
			CaughtBy: harness.Expect{"BlackHoleUpstream": "detect"},
		},
		{
			Name: "NoJitter", Description: "backs off without jitter: every client waits exactly the same delays",
			Mutate:   func(o *client.Options) { o.Backoff.Jitter, o.Backoff.NoJitter = 0, true },
			CaughtBy: harness.Expect{"MassDrop": "herd-spread", "LongOutage": "spread-at-cap"},
		},
		{
			Name: "HotLoop", Description: "retries after 1 ms, always",
			Mutate: func(o *client.Options) {
				o.Backoff.Initial, o.Backoff.Max = time.Millisecond, time.Millisecond
				o.HintMax = time.Millisecond
			},
			CaughtBy: harness.Expect{"Reject428": "attempts", "DialRefused": "attempts"},
		},
		{
			Name: "BackoffResetOnConnect", Description: "resets its backoff as soon as a connection opens, so a flapping server keeps it fast",
			Mutate:   quirk(quirks.Set{ResetBackoffOnConnect: true}),
			CaughtBy: harness.Expect{"Flapping": "backoff-not-reset"},
		},
		{
			Name: "RetryFatal", Description: "retries after 401 and 'logged out' instead of stopping",
			Mutate:   quirk(quirks.Set{RetryFatal: true}),
			CaughtBy: harness.Expect{"Reject401": "no-retry-after-fatal", "LoggedOut4401": "no-retry-after-fatal"},
		},
		{
			Name: "IgnoreRetryAfter", Description: "ignores Retry-After and the 1013 hint",
			Mutate:   quirk(quirks.Set{IgnoreHints: true}),
			CaughtBy: harness.Expect{"Reject429RetryAfter": "waits-hint", "TryAgainLater1013": "waits-hint"},
		},
		{
			Name: "DropOutbox", Description: "discards unacknowledged messages on reconnect",
			Mutate:   quirk(quirks.Set{DropOutboxOnReconnect: true}),
			CaughtBy: harness.Expect{"BlackHoleHalfOpen": "continuity"},
		},
		{
			Name: "NoResume", Description: "never resumes its session: what was pushed while it was away is lost",
			Mutate:   quirk(quirks.Set{NoResume: true}),
			CaughtBy: harness.Expect{"LongOutage": "continuity"},
		},
		{
			Name: "DeliverDuplicates", Description: "hands the application every copy a server replays",
			Mutate:   quirk(quirks.Set{DeliverDuplicates: true}),
			CaughtBy: harness.Expect{"ResumeOverlap": "continuity"},
		},
		{
			Name: "WaitForDeadPeer", Description: "waits for the close handshake to finish, however long the peer takes",
			Mutate:   quirk(quirks.Set{WaitForDeadPeer: true}),
			CaughtBy: harness.Expect{"BlackHoleHalfOpen": "redial-after-loss", "SlowClose": "redial-after-loss"},
		},
	}
}
