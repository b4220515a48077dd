package harness

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/protocol"
	"github.com/wschaos/wschaos/result"
)

// Scenario is one entry of a catalogue: a client profile, a server, a fault
// schedule and what the client must do about it. Scenarios are data; Run
// executes one.
type Scenario struct {
	// Name is CamelCase without spaces or slashes, so that
	// `go test -run 'TestCatalog/Name'` selects it.
	Name        string
	Description string
	// Clients is how many clients run at once. Defaults to 1.
	Clients int
	// TLS serves wss:// instead of ws://.
	TLS bool
	// Client is the client profile. The harness sets ClientID, OnEvent,
	// OnMessage, Rand, Dial and TLSConfig.
	Client client.Options
	// NoHeartbeat says the client under test declares no heartbeat (see
	// Profile): Client's PingInterval and PongTimeout are held as none
	// rather than given the reference client's defaults. Only an outside
	// client (RunOptions.Command) can run without one.
	NoHeartbeat bool
	// Server configures the fake server. The harness sets Addr, TLS and
	// OnEvent.
	Server fakeserver.Options
	// SendInterval is how often each client's workload sends a message.
	// Defaults to 50ms; negative means no workload.
	SendInterval time.Duration
	// MessageSize pads each workload message's body to this many bytes, so
	// a scenario can send frames larger than a link's MTU. Defaults to the
	// bare body ("c1-m17", a few bytes); at most MaxMessageSize.
	MessageSize int
	// Link puts the packet link (link.go) into the chain: in front of the
	// tap for the reference client, behind it for an outside one. A packet
	// fault puts it there with the defaults when Link is nil. The harness
	// sets its Seed, Listen and BehindTap.
	Link *LinkOptions
	// Faults is the schedule. Each fault's At counts from the moment every
	// client is warm (ready, with traffic in both directions), except faults
	// marked Initial, which are in force before the clients start.
	Faults []Fault
	// Tail is how long the run goes on after the last fault ends and every
	// client is ready again, to see that it stays ready. Defaults to
	// 2 x (PingInterval + PongTimeout), or 2 x Backoff.Initial without a
	// heartbeat.
	Tail time.Duration
	// Checks derives the scenario's targets from the profile the client is
	// held to (after defaults), so that no target is a magic number.
	Checks func(o client.Options) []Check
}

// Fault is one step of a schedule: it starts At after warm-up, and ends For
// later (For 0 is an instant fault, such as a close frame). A fault is a
// value: Start applies it and Stop removes it, so a scenario author adds a
// fault of their own by writing these two functions against the Env; see
// ToxicFault for any Toxiproxy toxic by type and attributes.
type Fault struct {
	// Kind names the fault in results, such as "black-hole".
	Kind string
	// Layer says what the fault acts on. A scenario whose faults need the
	// fake server (LayerServer) cannot run against a real upstream server.
	// Defaults to LayerNetwork.
	Layer result.Layer
	// Text describes the fault for people.
	Text string
	At   time.Duration
	For  time.Duration
	// Initial faults are started before the clients first dial; At is then
	// ignored and For counts from the start of the run.
	Initial bool
	// Arm, if set, runs before any client connects (reset_peer must exist
	// when the connection is accepted).
	Arm   func(ctx context.Context, env *Env) error
	Start func(ctx context.Context, env *Env) error
	// Stop ends the fault; nil for instant faults.
	Stop func(ctx context.Context, env *Env) error

	// validate, if set, checks the fault's settings before the run starts
	// (a packet fault's probabilities, say).
	validate func() error
}

// Check is one target and the pure function that holds a recorded timeline
// against it. Eval returns a verdict of pass, fail or n/a (nothing to
// judge); it never returns pass without evidence.
type Check struct {
	Target result.Target
	Eval   func(tl *Timeline) result.Check
	// needs says what of the session protocol and the fake server's record
	// the check reads, for a check that cannot be judged without them;
	// empty for one that any client and server can be judged by.
	needs string
	// window is a herd check's window, which the spread figures count
	// reconnects in too.
	window time.Duration
}

// Defining marks c as the check the scenario is about: when it has nothing
// to judge, the scenario's verdict is n/a rather than pass.
func Defining(c Check) Check {
	c.Target.Defining = true
	eval := c.Eval
	c.Eval = func(tl *Timeline) result.Check {
		out := eval(tl)
		out.Defining = true
		return out
	}
	return c
}

var nameRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// MaxMessageSize bounds Scenario.MessageSize: a quarter of the protocol's
// largest frame, which leaves room for the envelope.
const MaxMessageSize = protocol.MaxFrameSize / 4

// UsesLink reports whether the scenario runs over the packet link: it asks
// for one, or one of its faults acts on packets.
func (s *Scenario) UsesLink() bool {
	return s.Link != nil || slices.ContainsFunc(s.Faults, func(f Fault) bool { return f.Layer == result.LayerPacket })
}

// Validate reports what is wrong with a scenario, if anything.
func (s *Scenario) Validate() error {
	var errs []error
	if !nameRE.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("name %q must be CamelCase letters and digits, starting with a capital", s.Name))
	}
	if s.Clients < 0 {
		errs = append(errs, fmt.Errorf("clients %d must be 0 (meaning 1) or more", s.Clients))
	}
	if s.Checks == nil {
		errs = append(errs, errors.New("no checks: a scenario must state its targets"))
	}
	if s.MessageSize < 0 || s.MessageSize > MaxMessageSize {
		errs = append(errs, fmt.Errorf("message size %d outside 0..%d", s.MessageSize, MaxMessageSize))
	}
	errs = append(errs, overlappingPacketFaults(s.Faults)...)
	for i, f := range s.Faults {
		if f.Kind == "" || f.Start == nil {
			errs = append(errs, fmt.Errorf("fault %d needs a kind and a start", i+1))
		}
		if f.At < 0 || f.For < 0 {
			errs = append(errs, fmt.Errorf("fault %d (%s): negative offset or duration", i+1, f.Kind))
		}
		if f.validate != nil {
			if err := f.validate(); err != nil {
				errs = append(errs, fmt.Errorf("fault %d (%s): %w", i+1, f.Kind, err))
			}
		}
		if f.For > 0 && f.Stop == nil {
			errs = append(errs, fmt.Errorf("fault %d (%s): lasts %v but has no stop", i+1, f.Kind, f.For))
		}
		switch f.Layer {
		case "", result.LayerNetwork, result.LayerPacket, result.LayerServer:
		default:
			errs = append(errs, fmt.Errorf("fault %d (%s): layer %q, want network, packet or server", i+1, f.Kind, f.Layer))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("harness: scenario %q: %w", s.Name, err)
	}
	return nil
}

// overlappingPacketFaults refuses packet faults whose windows overlap:
// each sets the whole link, so the later would silently replace the
// earlier, and the earlier's end would clear the later.
func overlappingPacketFaults(faults []Fault) []error {
	type window struct {
		i          int
		start, end time.Duration
	}
	var ws []window
	for i, f := range faults {
		if f.Layer != result.LayerPacket {
			continue
		}
		// An initial fault counts from the start of the run, which is
		// warm-up too: a run with one does not wait to warm up.
		at := f.At
		if f.Initial {
			at = 0
		}
		ws = append(ws, window{i, at, at + f.For})
	}
	var errs []error
	for a := range ws {
		for b := a + 1; b < len(ws); b++ {
			x, y := ws[a], ws[b]
			if x.start < y.end && y.start < x.end {
				errs = append(errs, fmt.Errorf("packet faults %d (%s) and %d (%s) overlap: each sets the whole link; combine them into one",
					x.i+1, faults[x.i].Kind, y.i+1, faults[y.i].Kind))
			}
		}
	}
	return errs
}

// FaultKinds lists the kinds of the scenario's faults, in schedule order,
// without repeats.
func (s *Scenario) FaultKinds() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range s.Faults {
		if !seen[f.Kind] {
			seen[f.Kind] = true
			out = append(out, f.Kind)
		}
	}
	return out
}

// NeedsServer reports whether the scenario needs the fake server: a real
// upstream server cannot run it (NeedsServerReason says why).
func (s *Scenario) NeedsServer() bool { return s.NeedsServerReason() != "" }

// effectiveProfile is o with the client's defaults applied, or o itself
// when it is invalid (Run reports that).
func effectiveProfile(o client.Options) client.Options {
	c, err := client.New("ws://127.0.0.1/ws", o)
	if err != nil {
		return o
	}
	return c.Options()
}
