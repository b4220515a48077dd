package scenarios

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// Profile is the client timing profile the catalogue runs with at time
// scale 1: the shape of a production profile, compressed so that the quick
// suite takes seconds. Every target in the catalogue is derived from it.
func Profile() client.Options { return ProfileAt(1) }

// ProfileAt is Profile with every duration multiplied by scale.
func ProfileAt(scale float64) client.Options { return cat{k: h.Scale(scale)}.reference() }

// DeclaredAt is ProfileAt stated as a declared profile: what a client that
// declares nothing is held to.
func DeclaredAt(scale float64) h.Profile { return h.ProfileFrom(withDefaults(ProfileAt(scale))) }

// Options configure CatalogFor. The zero value is the built-in catalogue.
type Options struct {
	// Scale multiplies every duration of the catalogue's own: the fault
	// schedule, the server, the workload and, when no profile is
	// declared, the reference profile. 0 means 1.
	Scale float64
	// Profile is the profile the client under test declares; nil means the
	// reference profile at Scale. A declared profile is taken as it is,
	// not stretched: a client does what it declares.
	Profile *h.Profile
	// Clients is how many clients run in the scenarios that run several
	// (MassDrop, ConnectionLimit); 0 keeps each one's own count.
	Clients int
}

// cat builds the catalogue at a time scale for a declared profile: every
// duration of the fault schedule, the server and the workload is the
// catalogue's own multiplied by k, so a slow machine (or the race
// detector) can run the same scenarios with the same proportions, and the
// nightly job can run near production timings; and every fault that must
// outlast something the client declares (a heartbeat, a backoff cap, a
// handshake timeout) lasts at least long enough to judge it. For the
// reference profile the catalogue's own durations are the longer in every
// case, so its schedule does not depend on the profile. The allowance of
// each target is not stretched with it (harness.Bound).
type cat struct {
	k h.Scale
	// p is the declared profile; nil for the reference profile at k.
	p *h.Profile
	// clients overrides the count of the scenarios with several clients.
	clients int
}

// d scales one duration.
func (c cat) d(x time.Duration) time.Duration { return c.k.D(x) }

// reference is the reference client's compressed profile at k.
func (c cat) reference() client.Options {
	return client.Options{
		Session:          true, // the fake server speaks the session protocol; continuity is judged by it
		PingInterval:     c.d(200 * time.Millisecond),
		PongTimeout:      c.d(150 * time.Millisecond),
		HandshakeTimeout: c.d(time.Second),
		CloseGrace:       c.d(100 * time.Millisecond),
		Backoff: client.Backoff{
			Initial:    c.d(100 * time.Millisecond),
			Max:        c.d(time.Second),
			Multiplier: 2,
			Jitter:     0.5,
		},
		MinHealthyUptime: c.d(time.Second),
		HintMax:          c.d(2 * time.Second),
		AckDelay:         c.d(20 * time.Millisecond),
	}
}

// declared is the profile the client is held to, in declared terms.
func (c cat) declared() h.Profile {
	if c.p != nil {
		return *c.p
	}
	return h.ProfileFrom(withDefaults(c.reference()))
}

// profile is the client profile of every scenario: the declared profile
// over the reference one, with what a declared profile does not state
// (how long a connection must live to reset the backoff, the clamp on
// server hints) no shorter than the declared heartbeat and backoff need.
func (c cat) profile() client.Options {
	o := c.reference()
	if c.p == nil {
		return o
	}
	o = c.p.Apply(o)
	o.MinHealthyUptime = max(o.MinHealthyUptime, 2*c.p.HeartbeatSpan())
	o.HintMax = max(o.HintMax, c.p.BackoffInitial)
	return o
}

// heartbeat is the detection bound for a fault that lasts window: what the
// declared heartbeat promises or, without one, that the silence is noticed
// while it lasts, which nothing the client declares promises.
func (c cat) heartbeat(o client.Options, window time.Duration) h.Bound {
	if c.declared().Heartbeat() {
		return h.HeartbeatBound(o)
	}
	return h.NewBound(window, fmt.Sprintf("no heartbeat declared: nothing promises to notice the silence; held to notice it while it lasts (%v)", window))
}

// halfOpen is how long a silent fault lasts: the catalogue's own length,
// or longer for a slow heartbeat, so that it outlasts the heartbeat's
// bound with its allowance and the redial that follows (half the bound
// again, plus 200 ms).
func (c cat) halfOpen(own time.Duration) time.Duration {
	return max(c.d(own), c.declared().HeartbeatSpan()*3/2+c.d(200*time.Millisecond))
}

// quietFor is how long a fault that must not cause a reconnect lasts: long
// enough for two heartbeats to run under it.
func (c cat) quietFor(own time.Duration) time.Duration {
	return max(c.d(own), 2*c.declared().HeartbeatSpan())
}

// deadline is the latency, each way, that silences the link for longer
// than the heartbeat allows.
func (c cat) deadline() time.Duration {
	if hb := c.declared().HeartbeatSpan(); hb > 0 {
		return max(c.d(400*time.Millisecond), hb+c.d(50*time.Millisecond))
	}
	return c.d(400 * time.Millisecond)
}

// spike is the latency, each way, that slows round trips but stays below
// the heartbeat's deadline: half the pong timeout.
func (c cat) spike() time.Duration {
	if p := c.declared(); p.Heartbeat() {
		return p.PongTimeout / 2
	}
	return c.reference().PongTimeout / 2
}

// refusal is how long the server refuses upgrades: long enough for the
// client to meet the refusal on its retries, three of its first delays.
func (c cat) refusal(own time.Duration) time.Duration {
	return max(c.d(own), 3*c.declared().BackoffInitial)
}

// manyClients is the count of a scenario with several clients.
func (c cat) manyClients(own int) int {
	if c.clients > 0 {
		return c.clients
	}
	return own
}

// withDefaults is o with the reference client's defaults applied.
func withDefaults(o client.Options) client.Options {
	cl, err := client.New("ws://127.0.0.1/ws", o)
	if err != nil {
		panic("scenarios: the catalogue's own profile is invalid: " + err.Error())
	}
	return cl.Options()
}

// push is the fake server's sequenced push interval.
func (c cat) push() time.Duration { return c.d(50 * time.Millisecond) }

// server is the fake server profile: a sequenced push every push(), and a
// resume window (30 s at scale 1) that stretches with the rest, so that an
// outage never outlives it at one scale and not at another.
func (c cat) server() fakeserver.Options {
	return fakeserver.Options{PushInterval: c.push(), ResumeWindow: c.d(30 * time.Second)}
}

// warm is how long after warm-up the first fault starts: enough for several
// heartbeats and messages to have run.
func (c cat) warm() time.Duration { return c.d(300 * time.Millisecond) }

// retryAfter is a Retry-After header of one second at time scale 1: whole
// seconds, rounded up, as HTTP requires.
func (c cat) retryAfter() (string, time.Duration) {
	secs := int(math.Ceil(float64(c.k)))
	return strconv.Itoa(secs), time.Duration(secs) * time.Second
}

// Bounds every scenario shares, at the catalogue's scale.

func (c cat) atOnce(what string) h.Bound { return h.AtOnceBound(c.k, what) }

// pairing bounds how far apart the client's and the tap's accounts of one
// moment may be: each is stamped on its own goroutine, and a dial crosses
// the HTTP transport's goroutines before it reaches the tap. With the whole
// catalogue running at once on 2 cores they were up to 99 ms apart.
func (c cat) pairing() h.Bound {
	return h.NewBound(c.d(75*time.Millisecond),
		fmt.Sprintf("client and tap events share one clock, each stamped on its own goroutine (%v); the client closes its socket within CloseGrace of the loss it declares", c.d(75*time.Millisecond)))
}

// recoverIn requires recovery within wait (the longest the client may still
// be waiting when the network returns) plus one handshake on loopback.
func (c cat) recoverIn(wait h.Bound) h.Check { return h.RecoverWithin(wait.Plus(h.OneHandshake(c.k))) }

// recoverAfter is recoverIn for the delay that can be pending when an
// outage of the given length (as it took effect) ends.
func (c cat) recoverAfter(o client.Options, outage time.Duration) h.Check {
	return h.RecoverAfterOutage(o, outage, c.k)
}

// teardown bounds the time from a declared loss to the next dial: the close
// handshake gets CloseGrace, then the first retry.
func (c cat) teardown(o client.Options) h.Bound {
	_, first := o.Backoff.Envelope(1)
	return h.NewBound(o.CloseGrace+first, fmt.Sprintf("teardown never waits on the dead peer: CloseGrace %v + first retry %v", o.CloseGrace, first))
}

// slowLinkPending bounds recovery after a link too slow for a handshake:
// when it is fast again a handshake may be in flight (HandshakeTimeout) on
// top of the longest delay pending.
func (c cat) slowLinkPending(o client.Options, d time.Duration) h.Bound {
	return h.PendingDelay(o, d).Plus(h.NewBound(o.HandshakeTimeout, fmt.Sprintf("a handshake in flight (HandshakeTimeout %v)", o.HandshakeTimeout)))
}

func (c cat) noLoss() h.Check {
	return h.NoLoss("unacknowledged messages are resent, the session resumes from the last sequence received, duplicates are dropped")
}

// closeCode is a scenario where the server closes with a retryable code.
func (c cat) closeCode(name string, code int, meaning string) h.Scenario {
	return h.Scenario{
		Name: name,
		Description: fmt.Sprintf("The server sends a close frame with %d (%s). The client must end the connection at once and retry fast, with nothing lost.",
			code, meaning),
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{h.ServerClose(c.warm(), code, meaning)},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.SawCloseCode(code, fmt.Sprintf("the server's close code %d is reported as such", code)),
				h.Defining(h.DetectWithin(c.atOnce("a close frame ends the connection at once"))),
				c.recoverIn(h.FirstRetry(o)),
				c.noLoss(),
			}
		},
	}
}

// fatal is a scenario where the server says the client must stop. For the
// last moments before it does, the client's messages vanish on the way
// (an upstream black hole shorter than any detector), so that messages are
// certainly outstanding when the session ends: the client must hand back
// exactly those the server never received.
func (c cat) fatal(name string, f h.Fault, code int, meaning string) h.Scenario {
	quiet := c.d(200 * time.Millisecond)
	f.At = c.warm() + quiet
	return h.Scenario{
		Name: name,
		Description: fmt.Sprintf("The server stops hearing the client for 200 ms, then answers with %d (%s). Retrying cannot help: the client must stop without retrying and say why, "+
			"and report to the application every message it accepted that the server never received.",
			code, meaning),
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{h.BlackHole(c.warm(), 2*quiet, h.Upstream), f},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.Defining(h.StopsOnFatal(code, fmt.Sprintf("%d means %s: fatal in the client's close-reason taxonomy", code, meaning))),
				h.UndeliveredReported(fmt.Sprintf("messages sent in the %v before the end never reach the server; the client must hand them back", quiet)),
			}
		},
	}
}

// hinted is a scenario where the server refuses with a Retry-After hint.
func (c cat) hinted(name string, status int) h.Scenario {
	header, hint := c.retryAfter()
	outage := c.refusal(500 * time.Millisecond)
	return h.Scenario{
		Name: name,
		Description: fmt.Sprintf("The server drops every connection and refuses upgrades with %d and Retry-After: %s for %v. The client must wait at least the hint (clamped to its HintMax) before it dials again, then recover.",
			status, header, outage),
		Client: c.profile(),
		Server: c.server(),
		Faults: []h.Fault{h.Reject(c.warm(), outage, status, header, false)},
		Checks: func(o client.Options) []h.Check {
			_, first := o.Backoff.Envelope(1)
			upper := hint + time.Duration(float64(hint)*o.Backoff.Jitter) + first
			return []h.Check{
				h.Defining(h.WaitsAtLeastHint(status, hint, fmt.Sprintf("Retry-After: %s is %v, inside the clamp [%v, %v]", header, hint, o.Backoff.Initial, o.HintMax))),
				c.recoverIn(h.NewBound(upper, fmt.Sprintf("first retry %v + hint %v with up to %.0f%% upward jitter", first, hint, 100*o.Backoff.Jitter))),
				c.noLoss(),
			}
		},
	}
}

// Catalog returns the built-in scenarios, in a stable order.
func Catalog() []h.Scenario { return CatalogAt(1) }

// CatalogAt returns the catalogue with every duration multiplied by scale
// (see cat). Descriptions state the durations at scale 1.
func CatalogAt(scale float64) []h.Scenario {
	list, _ := CatalogFor(Options{Scale: scale}) // the reference profile is valid
	return list
}

// CatalogFor returns the catalogue for the options: the built-in one for
// the zero value, or one whose faults and targets derive from a client's
// declared profile. An invalid profile is an error naming the field.
func CatalogFor(opts Options) ([]h.Scenario, error) {
	scale := cmp.Or(opts.Scale, 1)
	if opts.Profile != nil {
		if err := opts.Profile.Validate(); err != nil {
			return nil, err
		}
	}
	if opts.Clients < 0 {
		return nil, fmt.Errorf("scenarios: clients %d: want 0 (each scenario's own count) or more", opts.Clients)
	}
	c := cat{k: h.Scale(scale), p: opts.Profile, clients: opts.Clients}
	list := c.base()
	list = append(list, tlsVariant(list, "TLSBlackHole", "BlackHoleHalfOpen"), tlsVariant(list, "TLSProxyDown", "ProxyDownFIN"))
	for i := range list {
		list[i].NoHeartbeat = !c.declared().Heartbeat()
		// Every single-client scenario also cross-checks the client's own
		// view against the wire tap's: a disagreement is a failed check.
		if list[i].Clients > 1 {
			continue
		}
		checks := list[i].Checks
		list[i].Checks = func(o client.Options) []h.Check {
			return append(checks(o), h.CrossCheck(c.pairing()))
		}
	}
	for i := range list {
		if opts.Profile != nil {
			list[i].Description += " (Durations are stated for the reference profile; this schedule follows the declared profile, and its faults state their own lengths.)"
		} else if scale != 1 {
			list[i].Description += fmt.Sprintf(" (Durations are stated at time scale 1; this run stretches every one by %g.)", scale)
		}
	}
	return list, nil
}

func (c cat) base() []h.Scenario {
	return slices.Concat(c.drops(), c.cuts(), c.slowLinks(), c.serverCloses(), c.refusals(), c.sessions(), c.packet())
}

// drops: connections dropped or black-holed.
func (c cat) drops() []h.Scenario {
	// Refused for long enough to see several retries; silent for longer
	// than the heartbeat needs.
	refused := max(c.d(600*time.Millisecond), 6*c.declared().BackoffInitial)
	hole := c.halfOpen(900 * time.Millisecond)
	return []h.Scenario{
		{
			Name:        "ProxyDownFIN",
			Description: "The proxy is disabled for a moment: every connection is closed with FIN and no close frame, and dials are refused until it is back. The client must see an abnormal closure (1006) at once and be back within its first retry.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.ProxyDown(c.warm(), c.d(25*time.Millisecond))},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.SawCloseCode(1006, "a TCP close with no close frame is an abnormal closure"),
					h.Defining(h.DetectWithin(c.atOnce("a reader error ends the connection at once"))),
					c.recoverIn(h.FirstRetry(o)),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "DialRefused",
			Description: "The proxy is down before the client's first dial, for 600 ms. The initial connect must be retried by the same backoff policy as any reconnect, and succeed soon after the proxy is back.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.DialRefused(refused)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(c.recoverAfter(o, refused)),
					h.DelaysWithinPolicy("every delay is Backoff.Envelope(attempt): jitter after the cap, never 0"),
					h.MaxAttempts(1+h.AttemptsWithin(o, refused), "the first dial, then each retry waits at least its shortest delay: no hot loop"),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "BlackHoleHalfOpen",
			Description: "Toxiproxy's timeout toxic with timeout 0 swallows data both ways: the TCP connection stays open and silent, half-open as far as either end can tell. The client's heartbeat must notice within PingInterval + PongTimeout, and it must be back soon after the network returns.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.BlackHole(c.warm(), hole)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(h.DetectSilenceWithin(c.heartbeat(o, hole))),
					h.RedialAfterLossWithin(c.teardown(o)),
					c.recoverAfter(o, hole),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "BlackHoleUpstream",
			Description: "Only the client-to-server direction is black-holed; the server keeps pushing, so data still arrives. The client must notice that its own messages are not acknowledged and not believe the link is healthy.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.BlackHole(c.warm(), hole, h.Upstream)},
			Checks: func(o client.Options) []h.Check {
				ack := h.NewBound(o.AckTimeout, fmt.Sprintf("AckTimeout %v after the first message sent into the hole", o.AckTimeout))
				if c.p != nil {
					// A declared profile states no ack timeout: its
					// heartbeat's pings go into the hole too.
					ack = c.heartbeat(o, hole)
				}
				return []h.Check{
					h.Defining(h.DetectAckWithin(ack)),
					c.recoverAfter(o, hole),
					c.noLoss(),
				}
			},
		},
	}
}

// cuts: connections reset or cut mid-frame, and a peer slow to close.
func (c cat) cuts() []h.Scenario {
	slow := c.halfOpen(3 * time.Second)
	return []h.Scenario{
		{
			Name:        "ResetMidStream",
			Description: "Toxiproxy's reset_peer, armed when the connection was accepted, is switched on: the connection gets a TCP RST in the middle of the stream. The client must notice at once and reconnect.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.ResetPeer(c.warm(), c.d(60*time.Millisecond))},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(h.DetectWithin(h.NewBound(c.push(), fmt.Sprintf("reset_peer fires on the next chunk: the push every %v at the latest", c.push())).Plus(c.atOnce("then the reader error")))),
					c.recoverAfter(o, c.d(60*time.Millisecond)),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "LimitDataMidFrame",
			Description: "Toxiproxy's limit_data closes the server-to-client stream after 4 more bytes: in the middle of the next frame, whatever the server sends (a frame's header alone is 2 bytes; the push, or a real server's echo, is longer). The client must notice at once, reconnect, and deliver no corrupt or partial message.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.LimitData(c.warm(), c.d(80*time.Millisecond), 4)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(h.DetectWithin(h.NewBound(c.push(), fmt.Sprintf("the next frame crosses the limit: the push every %v (a real server's echo of the workload comes as often)", c.push())).Plus(c.atOnce("then the reader error")))),
					c.recoverAfter(o, c.d(80*time.Millisecond)),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "SlowClose",
			Description: "The link from the server turns slow for 3 s: everything it sends, its reply to a close frame included, arrives 3 s late. The client's heartbeat declares the link dead and starts a close handshake that the server answers 3 s late; the client must close its socket within CloseGrace and dial again within its first retry rather than wait on the slow peer, then recover.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Latency(c.warm(), slow, slow, h.Downstream)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.DetectSilenceWithin(c.heartbeat(o, slow)),
					h.Defining(h.RedialAfterLossWithin(c.teardown(o))),
					c.recoverIn(c.slowLinkPending(o, slow)),
					c.noLoss(),
				}
			},
		},
	}
}

// slowLinks: links that are slow, fragmented, flapping or down for long.
func (c cat) slowLinks() []h.Scenario {
	lat := c.deadline()
	above := max(c.d(2*time.Second), lat+c.halfOpen(0))
	outage := max(c.d(4*time.Second), 4*c.declared().BackoffMax)
	threshold := "no heartbeat declared: nothing mistakes a slow link for a dead peer"
	if p := c.declared(); p.Heartbeat() {
		threshold = fmt.Sprintf("a round trip of %v stays below the dead threshold %v", 2*c.spike(), p.HeartbeatSpan())
	}
	return []h.Scenario{
		{
			Name:        "Slicer",
			Description: "Toxiproxy's slicer re-fragments both directions into chunks of about 8 bytes. WebSocket frames arrive in pieces; the client must reassemble them, deliver every message intact and not reconnect.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Slicer(c.warm(), c.quietFor(time.Second), 8, c.d(100*time.Microsecond))},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{h.Defining(h.NoReconnect("fragmentation is not a failure")), c.noLoss()}
			},
		},
		{
			Name:        "LowBandwidth",
			Description: "Both directions are limited to 2 KB/s for 1.5 s while the heartbeat, the push and the workload run (about 1 KB/s each way). The link is slow but within budget: no false dead-peer detection.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Bandwidth(c.warm(), c.quietFor(1500*time.Millisecond), 2)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{h.Defining(h.NoReconnect("the traffic fits the bandwidth, so every heartbeat is answered in time")), c.noLoss()}
			},
		},
		{
			Name:        "LatencySpike",
			Description: "Latency of PongTimeout/2 each way for a second: round trips slow down but stay below the dead threshold. The client must ride it out without reconnecting.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Latency(c.warm(), c.quietFor(time.Second), c.spike())},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(h.NoReconnect(threshold)),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "LatencyAboveDeadline",
			Description: "Latency of 400 ms each way for 2 s: silence exceeds the dead threshold and every handshake exceeds the handshake timeout. The client must declare the link dead, keep retrying with backoff (no hot loop while the link stays slow) and recover when it is fast again.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Latency(c.warm(), above, lat)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(h.DetectSilenceWithin(c.heartbeat(o, above))),
					h.MaxAttempts(h.AttemptsWithin(o, above), "each retry waits at least its shortest delay: no hot loop"),
					c.recoverIn(c.slowLinkPending(o, above)),
					c.noLoss(),
				}
			},
		},
		c.flapping(),
		{
			Name:        "LongOutage",
			Description: "The proxy is down for 4 s, four times the backoff cap. Delays must grow to the cap and stay spread there (jitter after the cap), and the client must be back within one capped delay once the network returns.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.ProxyDown(c.warm(), outage)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.DelaysWithinPolicy("every delay is Backoff.Envelope(attempt)"),
					h.Defining(h.SpreadAtCap("jitter is applied after the cap")),
					c.recoverAfter(o, outage),
					c.noLoss(),
				}
			},
		},
	}
}

// serverCloses: the server closing, going silent or stalling.
func (c cat) serverCloses() []h.Scenario {
	mute := c.halfOpen(time.Second)
	stall := max(c.d(1500*time.Millisecond), c.declared().HandshakeTimeout*3/2)
	return []h.Scenario{
		c.closeCode("ServerGoingAway1001", 1001, "going away"),
		c.closeCode("ServerError1011", 1011, "internal error"),
		c.closeCode("ServiceRestart1012", 1012, "service restart"),
		{
			Name:        "TryAgainLater1013",
			Description: "The server closes with 1013 (try again later) and a hint of 1s in the reason. The client must wait at least the hint, clamped to its limits, then reconnect.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.ServerClose(c.warm(), 1013, c.d(time.Second).String())},
			Checks: func(o client.Options) []h.Check {
				hint := c.d(time.Second)
				upper := hint + time.Duration(float64(hint)*o.Backoff.Jitter)
				return []h.Check{
					h.Defining(h.WaitsAtLeastHint(1013, hint, fmt.Sprintf("the 1013 hint of %v, inside the clamp [%v, %v]", hint, o.Backoff.Initial, o.HintMax))),
					c.recoverIn(h.NewBound(upper, fmt.Sprintf("hint %v with up to %.0f%% upward jitter", hint, 100*o.Backoff.Jitter))),
					c.noLoss(),
				}
			},
		},
		{
			Name:        "AbruptClose1006",
			Description: "The server closes the TCP connection with no close frame: the client sees 1006 (abnormal closure). It must notice at once and retry fast.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.AbruptClose(c.warm())},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.SawCloseCode(1006, "no close frame: abnormal closure"),
					h.Defining(h.DetectWithin(c.atOnce("a reader error ends the connection at once"))),
					c.recoverIn(h.FirstRetry(o)),
					c.noLoss(),
				}
			},
		},
		{
			Name:         "MutedPongs",
			Description:  "The server withholds pongs and sends nothing for 1 s while TCP stays healthy. Only the client's own heartbeat can tell: it must declare the connection dead within PingInterval + PongTimeout.",
			Client:       c.profile(),
			Server:       c.server(),
			SendInterval: -1, // acks would count as liveness; this fault is about silence
			Faults:       []h.Fault{h.MutePongs(c.warm(), mute, c.push())},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{h.Defining(h.DetectSilenceWithin(c.heartbeat(o, mute))), c.recoverAfter(o, mute)}
			},
		},
		{
			Name:        "UpgradeStall",
			Description: "The server accepts TCP but never answers the HTTP upgrade, for 1.5 s. The client must give up each attempt at its handshake timeout and retry, then recover.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Stall(c.warm(), stall)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.Defining(h.GivesUpWithin(result.CauseHandshakeTimeout, h.NewBound(o.HandshakeTimeout, fmt.Sprintf("HandshakeTimeout %v", o.HandshakeTimeout)))),
					c.recoverAfter(o, stall),
					c.noLoss(),
				}
			},
		},
	}
}

// refusals: the server refusing: fatal codes and statuses, and hints to wait.
func (c cat) refusals() []h.Scenario {
	refused := c.refusal(600 * time.Millisecond)
	return []h.Scenario{
		c.fatal("Reject401", h.Reject(0, c.refusal(time.Second), 401, "", false), 401, "unauthorized"),
		c.fatal("Reject403", h.Reject(0, c.refusal(time.Second), 403, "", false), 403, "forbidden"),
		{
			Name:        "Reject428",
			Description: "The server refuses upgrades with 428 for 600 ms (the status Baileys reports for any dropped connection). It is not fatal: the client must retry with backoff and recover.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.Reject(c.warm(), refused, 428, "", false)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					h.DelaysWithinPolicy("every delay is Backoff.Envelope(attempt)"),
					h.Defining(h.MaxAttempts(h.AttemptsWithin(o, refused), "each retry waits at least its shortest delay: no hot loop")),
					c.recoverAfter(o, refused),
					c.noLoss(),
				}
			},
		},
		c.hinted("Reject429RetryAfter", 429),
		c.hinted("Reject503RetryAfter", 503),
		c.fatal("LoggedOut4401", h.ServerClose(0, 4401, "logged out"), 4401, "logged out"),
		c.fatal("Replaced4440", h.ServerClose(0, 4440, "replaced"), 4440, "session replaced by another connection"),
	}
}

// sessions: sessions across restarts and gaps, backpressure, and many
// clients at once.
func (c cat) sessions() []h.Scenario {
	return []h.Scenario{
		c.backpressure(),
		{
			Name:        "ServerRestart",
			Description: "The server's listener goes away for 500 ms (every connection dropped, dials fail) and comes back with its sessions. The client must reconnect once it is back and resume with nothing lost.",
			Client:      c.profile(),
			Server:      c.server(),
			Faults:      []h.Fault{h.ServerRestart(c.warm(), c.d(500*time.Millisecond), true)},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{c.recoverAfter(o, c.d(500*time.Millisecond)), h.Defining(c.noLoss())}
			},
		},
		{
			Name:        "ResumeGap",
			Description: "The server keeps only its last 5 messages for resume and the proxy is down for 1 s while it pushes every 50 ms. Messages are lost for good: the client must report the gap with the exact count instead of pretending.",
			Client:      c.profile(),
			Server:      fakeserver.Options{PushInterval: c.push(), ResumeMessages: 5, ResumeWindow: c.d(30 * time.Second)},
			Faults:      []h.Fault{h.ProxyDown(c.warm(), c.d(time.Second))},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{
					c.recoverAfter(o, c.d(time.Second)),
					h.Defining(h.GapReported("the server keeps 5 messages for resume; about 20 are pushed during the outage")),
				}
			},
		},
		{
			Name:        "ResumeOverlap",
			Description: "The server delivers at least once: on resume it replays 3 messages the client already had. The proxy is down for 200 ms. The client must drop the duplicates, so the application sees every message exactly once.",
			Client:      c.profile(),
			Server:      fakeserver.Options{PushInterval: c.push(), ReplayOverlap: 3, ResumeWindow: c.d(30 * time.Second)},
			Faults:      []h.Fault{h.ProxyDown(c.warm(), c.d(200*time.Millisecond))},
			Checks: func(o client.Options) []h.Check {
				return []h.Check{c.recoverAfter(o, c.d(200*time.Millisecond)), h.Defining(c.noLoss())}
			},
		},
		c.massDrop(),
		c.connectionLimit(),
	}
}

// backpressure: the application sends faster than an outage lets the
// client deliver.
func (c cat) backpressure() h.Scenario {
	const limit = 10
	o := c.profile()
	o.OutboxMessages = limit
	outage := c.d(1500 * time.Millisecond)
	return h.Scenario{
		Name: "OutboxBackpressure",
		Description: fmt.Sprintf("The proxy is down for 1.5 s while the application sends a message every 50 ms into an outbox that holds %d. "+
			"Once it is full the client must refuse further messages (an error, never a silent drop or unbounded memory), and deliver every message it accepted once the network is back.", limit),
		Client: o,
		Server: c.server(),
		Faults: []h.Fault{h.ProxyDown(c.warm(), outage)},
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.Defining(h.BackpressureReported(fmt.Sprintf("about %d messages are sent during the outage into an outbox of %d", int(outage/c.d(50*time.Millisecond)), limit))),
				c.recoverAfter(o, outage),
				c.noLoss(),
			}
		},
	}
}

// flapping: ten short outages with short recoveries in between.
func (c cat) flapping() h.Scenario {
	const cycles = 10
	down, period := c.d(150*time.Millisecond), c.d(400*time.Millisecond)
	var faults []h.Fault
	for i := range cycles {
		faults = append(faults, h.ProxyDown(c.warm()+time.Duration(i)*period, down))
	}
	window := time.Duration(cycles-1)*period + down
	return h.Scenario{
		Name: "Flapping",
		Description: fmt.Sprintf("%d cycles of %v down, %v up. Connections that live less than MinHealthyUptime must not reset the backoff, so a flapping server cannot turn it into a hot loop; the client must end stable.",
			cycles, down, period-down),
		Client: c.profile(),
		Server: c.server(),
		Faults: faults,
		Checks: func(o client.Options) []h.Check {
			return []h.Check{
				h.Defining(h.BackoffNotReset(fmt.Sprintf("connections shorter than MinHealthyUptime %v keep the attempt count", o.MinHealthyUptime))),
				h.MaxAttempts(h.AttemptsWithin(o, window), fmt.Sprintf("each retry waits at least its shortest delay over the %v of flapping", window)),
				c.recoverAfter(o, window),
				h.StableAfterRecovery("once the network is stable the client stays connected"),
				c.noLoss(),
			}
		},
	}
}

// massDrop: 50 clients lose the proxy at once.
func (c cat) massDrop() h.Scenario {
	clients := c.manyClients(50)
	outage := max(c.d(3*time.Second), 3*c.declared().BackoffMax)
	return h.Scenario{
		Name:         "MassDrop",
		Description:  fmt.Sprintf("%d clients lose the proxy at once for %v. Every client must recover, and their reconnects must be spread: no 100 ms window holds more than twice its share.", clients, outage),
		Clients:      clients,
		Client:       c.profile(),
		Server:       fakeserver.Options{PushInterval: c.d(250 * time.Millisecond), ResumeWindow: c.d(30 * time.Second)},
		SendInterval: c.d(250 * time.Millisecond),
		Faults:       []h.Fault{h.ProxyDown(c.warm(), outage)},
		Checks: func(o client.Options) []h.Check {
			pending := h.WorstDelayAfter(o, outage)
			spread := time.Duration(float64(pending) * o.Backoff.Jitter)
			return []h.Check{
				c.recoverAfter(o, outage),
				h.Defining(h.HerdSpread(c.d(100*time.Millisecond), spread, fmt.Sprintf("jitter %.0f%% of the pending delay %v spreads the herd over %v", 100*o.Backoff.Jitter, pending, spread))),
				c.noLoss(),
			}
		},
	}
}

// tlsVariant runs an existing scenario over wss://.
func tlsVariant(list []h.Scenario, name, of string) h.Scenario {
	for _, sc := range list {
		if sc.Name == of {
			sc.Name = name
			sc.TLS = true
			sc.Description = "Over wss://: " + sc.Description
			return sc
		}
	}
	panic("scenarios: no scenario " + of)
}

// connectionLimit: four clients race back to a server that takes two.
func (c cat) connectionLimit() h.Scenario {
	clients := c.manyClients(4)
	limit := max(min(2, clients-1), 1)
	header, hint := c.retryAfter()
	d := c.refusal(1500 * time.Millisecond)
	return h.Scenario{
		Name: "ConnectionLimit",
		Description: fmt.Sprintf("The server drops every connection and, for 1.5 s, accepts only %d of %d clients, refusing the rest with 503 and Retry-After: %s. Refused clients must back off by the hint instead of hammering it, and all must recover once the limit is lifted.",
			limit, clients, header),
		Clients: clients,
		Client:  c.profile(),
		Server:  fakeserver.Options{PushInterval: c.push(), LimitRetryAfter: hint, ResumeWindow: c.d(30 * time.Second)},
		Faults:  []h.Fault{h.ConnectionLimit(c.warm(), d, limit)},
		Checks: func(o client.Options) []h.Check {
			_, first := o.Backoff.Envelope(1)
			upper := hint + time.Duration(float64(hint)*o.Backoff.Jitter) + first
			attempts := 2 + int(math.Ceil(float64(d)/float64(hint)))
			return []h.Check{
				h.Defining(h.WaitsAtLeastHint(503, hint, fmt.Sprintf("Retry-After: %s is %v", header, hint))),
				h.MaxAttempts(attempts, fmt.Sprintf("the first retry, then one per hint of %v over the %v limit, and the one that succeeds", hint, d)),
				c.recoverIn(h.NewBound(upper, fmt.Sprintf("first retry %v + hint %v with up to %.0f%% upward jitter", first, hint, 100*o.Backoff.Jitter))),
				c.noLoss(),
			}
		},
	}
}
