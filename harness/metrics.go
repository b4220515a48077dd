package harness

import (
	"math"
	"slices"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/result"
)

// Timeline is everything a check may look at: the recorded events, the fault
// windows as they took effect, the clients that ran and the profile they are
// held to. Checks are pure functions of a Timeline, so a stored result can
// be checked again offline.
type Timeline struct {
	Events  []result.Event
	Faults  []result.Fault
	Clients []string
	// Options is the profile every client is held to, defaults applied.
	Options client.Options
	// Plain says the clients were reference clients in plain mode, as
	// against a real server: their messages carry no sequence numbers, so
	// the checks that count messages are n/a. False for clients that speak
	// the session protocol (and for outside clients, which are marked as
	// such on the timeline); result.Client.Plain says the same in a
	// result.
	Plain bool
	// HerdWindow is the window reconnects are counted in for the herd
	// check and the spread figures. Defaults to 100ms.
	HerdWindow float64
}

// Linked reports whether the run went over the packet link: its counters
// are on the timeline. The tap then sits behind the link and sees the
// client's connections only as the link lets them through.
func (tl *Timeline) Linked() bool {
	return slices.ContainsFunc(tl.Events, func(e result.Event) bool { return e.Kind == result.KindLinkStats })
}

// tapBehindLink reports whether client id reached the tap through the
// packet link: the reference client dials through the link, which sits in
// front of the tap; an outside client dials the tap, in front of the link.
func (tl *Timeline) tapBehindLink(id string) bool { return tl.Linked() && !tl.Outside(id) }

// FaultStart is when the first fault took effect, in ms; NaN without faults.
func (tl *Timeline) FaultStart() float64 {
	if len(tl.Faults) == 0 {
		return math.NaN()
	}
	return tl.Faults[0].StartMS
}

// faultIssued is when the first fault was issued: losses from then on count
// as detections (a fault can take effect before the call that made it
// returns).
func (tl *Timeline) faultIssued() float64 {
	if len(tl.Faults) == 0 {
		return math.NaN()
	}
	if f := tl.Faults[0]; f.IssuedMS > 0 && f.IssuedMS < f.StartMS {
		return f.IssuedMS
	}
	return tl.Faults[0].StartMS
}

// FaultEnd is when the last fault ended, in ms; NaN without faults.
func (tl *Timeline) FaultEnd() float64 {
	if len(tl.Faults) == 0 {
		return math.NaN()
	}
	end := tl.Faults[0].EndMS
	for _, f := range tl.Faults[1:] {
		end = math.Max(end, f.EndMS)
	}
	return end
}

// faultEnding is when the harness began to end the last fault: a loss
// from then on can be the network's doing as the fault is removed (a black
// hole closes the connections it held), not the client's. FaultEnd when
// the result does not say.
func (tl *Timeline) faultEnding() float64 {
	end, at := tl.FaultEnd(), tl.FaultEnd()
	for _, f := range tl.Faults {
		if f.EndMS == end && f.StopIssuedMS > 0 && f.StopIssuedMS < at {
			at = f.StopIssuedMS
		}
	}
	return at
}

// ClientEvents returns the client-sourced events of one client, in order,
// without those of the harness's own teardown (cause stopped), which are
// not the client's doing.
func (tl *Timeline) ClientEvents(id string) []result.Event {
	var out []result.Event
	for _, e := range tl.Events {
		if e.Source == result.SourceClient && e.Client == id && !e.Teardown() {
			out = append(out, e)
		}
	}
	return out
}

// ClientMeasure holds one client's figures, as moments (ms since the
// origin) where the field says At or From and as counts otherwise.
type ClientMeasure struct {
	Client string
	// DetectedAt is the client's first loss declared at or after the fault
	// was issued; nil if it never declared the connection lost.
	DetectedAt *float64
	// SilenceFrom is the last inbound frame the client could observe before
	// DetectedAt: the start of the silence a heartbeat promises to notice.
	// Nil when there was no detection or no frame before it.
	SilenceFrom *float64
	// RecoveredAt is the first moment at or after the fault end at which the
	// client was ready on a connection made after the loss.
	RecoveredAt *float64
	// LastDeliveredAt is the last server message delivered before the fault.
	LastDeliveredAt *float64
	Attempts        int
	Reconnects      int
	Disconnects     int
	// Delays are the backoff delays the client took, in order.
	Delays []result.Event
	Fatal  bool
	// Resumed counts ready events on which the server resumed the session.
	Resumed int
}

// Detect is DetectedAt minus the fault start, in ms; a loss seen while the
// fault was being applied counts as 0.
func (m ClientMeasure) Detect(tl *Timeline) *float64 {
	d := sub(m.DetectedAt, tl.FaultStart())
	if d != nil && *d < 0 {
		*d = 0
	}
	return d
}

// DetectFromSilence is DetectedAt minus SilenceFrom, in ms.
func (m ClientMeasure) DetectFromSilence() *float64 {
	if m.SilenceFrom == nil {
		return nil
	}
	return sub(m.DetectedAt, *m.SilenceFrom)
}

// Recover is RecoveredAt minus the fault end, in ms.
func (m ClientMeasure) Recover(tl *Timeline) *float64 { return sub(m.RecoveredAt, tl.FaultEnd()) }

// Downtime is RecoveredAt minus the last delivery before the fault, in ms.
func (m ClientMeasure) Downtime() *float64 {
	if m.LastDeliveredAt == nil {
		return nil
	}
	return sub(m.RecoveredAt, *m.LastDeliveredAt)
}

func sub(a *float64, b float64) *float64 {
	if a == nil || math.IsNaN(b) {
		return nil
	}
	v := *a - b
	return &v
}

func ptr(v float64) *float64 { return &v }

// Measure computes one client's figures from the timeline:
//
//   - detected: the first loss (disconnected) the client declares once the
//     first fault was issued;
//   - silence: the last inbound frame before that, from the wire (the tap's
//     last bytes towards the client) or the client's own events
//     (deliveries, pongs, the welcome), whichever is later;
//   - recovered: the first moment at or after the last fault's end at which
//     the client is ready on a connection made after its loss (the moment
//     the fault ended, if it was already back by then);
//   - attempts: its dials from the fault to recovery.
func (tl *Timeline) Measure(id string) ClientMeasure {
	m := ClientMeasure{Client: id}
	start, end := tl.faultIssued(), tl.FaultEnd()
	evs := tl.ClientEvents(id)
	hasFault := !math.IsNaN(start)
	for _, e := range evs {
		switch e.Kind {
		case result.KindDisconnected:
			m.Disconnects++
			if m.DetectedAt == nil && hasFault && e.TMS >= start {
				m.DetectedAt = ptr(e.TMS)
			}
		case result.KindReady:
			m.Reconnects++
			if e.Resumed {
				m.Resumed++
			}
		case result.KindBackoff:
			m.Delays = append(m.Delays, e)
		case result.KindFatal:
			m.Fatal = true
		case result.KindReceived:
			if hasFault && e.TMS < start {
				m.LastDeliveredAt = ptr(e.TMS)
			}
		}
	}
	if m.Reconnects > 0 {
		m.Reconnects-- // the first ready is the initial connection
	}
	if !hasFault {
		return m
	}
	if m.DetectedAt != nil {
		m.SilenceFrom = tl.lastInbound(id, evs, *m.DetectedAt)
	}
	m.RecoveredAt = recoveredAt(evs, start, end, m.DetectedAt)
	recoveredBy := math.Inf(1)
	if m.RecoveredAt != nil {
		recoveredBy = *m.RecoveredAt
	}
	for _, e := range evs {
		if e.Kind == result.KindDialing && e.TMS >= start && e.TMS <= recoveredBy {
			m.Attempts++
		}
	}
	return m
}

// recoveredAt is the first ready after end on a connection made after the
// loss (the declared detection, or the fault's start for faults in force
// before the first connection), or end itself when the client was already
// ready again by then.
func recoveredAt(evs []result.Event, start, end float64, detected *float64) *float64 {
	lossAt := start
	if detected != nil {
		lossAt = *detected
	}
	ready, readySince := false, math.Inf(-1)
	for _, e := range evs {
		if e.TMS > end {
			if e.Kind == result.KindReady && e.TMS >= lossAt {
				return ptr(e.TMS)
			}
			continue
		}
		switch e.Kind {
		case result.KindReady:
			ready, readySince = true, e.TMS
		case result.KindDisconnected, result.KindFatal, result.KindStopped:
			ready = false
		}
	}
	if ready && readySince >= lossAt {
		return ptr(end)
	}
	return nil
}

// inboundKinds are the client events that mean a frame arrived.
var inboundKinds = []result.Kind{result.KindReceived, result.KindPong, result.KindReady, result.KindConnected}

// lastInbound is the last moment before `before` at which client id had a
// frame arrive: the later of the wire's account (the tap's last bytes
// towards the client, on its connections' close events, when the tap can
// tell the client's connections apart) and the client's own events.
//
// When the reference client dials through a packet link, the tap sits
// behind the link and its last bytes were handed to the link, not
// delivered: a lossy link can hold them for seconds, so the tap would date
// the silence too late and make a slow detector look fast. There only the
// client's own account counts. (An outside client dials the tap in front of
// the link, which sees what reached its socket.)
func (tl *Timeline) lastInbound(id string, evs []result.Event, before float64) *float64 {
	var last *float64
	later := func(t float64) {
		if t <= before && (last == nil || t > *last) {
			last = ptr(t)
		}
	}
	for _, e := range evs {
		if slices.Contains(inboundKinds, e.Kind) {
			later(e.TMS)
		}
	}
	if tl.tapBehindLink(id) {
		return last
	}
	owned := tl.tapConnsOf(id)
	for _, e := range tl.Events {
		if e.Source == result.SourceTap && e.LastDownMS > 0 && owned(e.Conn) {
			later(e.LastDownMS)
		}
	}
	return last
}

// tapConnsOf returns whether a tap connection belongs to client id: every
// one when a single client ran, those the tap attributed to it otherwise.
func (tl *Timeline) tapConnsOf(id string) func(conn uint64) bool {
	if len(tl.Clients) == 1 {
		return func(uint64) bool { return true }
	}
	mine := map[uint64]bool{}
	for _, e := range tl.Events {
		if e.Source == result.SourceTap && e.Kind == result.KindTapConnect && e.Client == id {
			mine[e.Conn] = true
		}
	}
	return func(conn uint64) bool { return mine[conn] }
}

// MeasureAll measures every client.
func (tl *Timeline) MeasureAll() []ClientMeasure {
	out := make([]ClientMeasure, len(tl.Clients))
	for i, id := range tl.Clients {
		out[i] = tl.Measure(id)
	}
	return out
}
