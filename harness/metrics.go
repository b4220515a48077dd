package harness

import (
	"math"
	"slices"
	"strings"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/reports"
)

// Timeline is everything a check may look at: the recorded events, the fault
// windows as they took effect, and the clients that ran. Checks are pure
// functions of a Timeline, so a stored result can be checked again offline.
type Timeline struct {
	Events  []reports.Event
	Faults  []reports.Fault
	Clients []string
	// Options are the effective options of the client under test.
	Options client.Options
}

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

// ClientEvents returns the client-sourced events of one client, in order,
// without those of the harness's own teardown (cause=stopped), which are not
// the client's doing.
func (tl *Timeline) ClientEvents(id string) []reports.Event {
	var out []reports.Event
	for _, e := range tl.Events {
		if e.Source == SourceClient && e.Client == id && !strings.Contains(e.Detail, "cause=stopped") {
			out = append(out, e)
		}
	}
	return out
}

// ClientMeasure holds one client's figures, as absolute times (ms since the
// origin) where the field says At and as durations otherwise.
type ClientMeasure struct {
	Client string
	// DetectedAt is the client's first "disconnected" at or after the fault
	// start; nil if it never declared the connection lost.
	DetectedAt *float64
	// RecoveredAt is the first moment at or after the fault end at which the
	// client was ready on a connection made after the loss (ready means its
	// hello/welcome round trip completed).
	RecoveredAt *float64
	// LastDeliveredAt is the last server message delivered before the fault.
	LastDeliveredAt *float64
	Attempts        int
	Reconnects      int
	Disconnects     int
	DelaysMS        []float64
	Codes           []int
	Fatal           bool
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

// Measure computes one client's figures from the timeline, as DESIGN.md
// defines them.
func (tl *Timeline) Measure(id string) ClientMeasure {
	m := ClientMeasure{Client: id}
	start, end := tl.faultIssued(), tl.FaultEnd()
	evs := tl.ClientEvents(id)
	hasFault := !math.IsNaN(start)

	// Detection: the first loss the client declares once the fault is on.
	for _, e := range evs {
		if e.Kind == string(client.EventDisconnected) {
			m.Disconnects++
			if m.DetectedAt == nil && hasFault && e.TMS >= start {
				m.DetectedAt = ptr(e.TMS)
			}
			if e.Code != 0 {
				m.Codes = append(m.Codes, e.Code)
			}
		}
		switch e.Kind {
		case string(client.EventReady):
			m.Reconnects++
			if strings.Contains(e.Detail, "resumed=true") {
				m.Resumed++
			}
		case string(client.EventBackoff):
			m.DelaysMS = append(m.DelaysMS, e.DelayMS)
		case string(client.EventFatal):
			m.Fatal = true
		case KindReceived:
			if hasFault && e.TMS < start {
				m.LastDeliveredAt = ptr(e.TMS)
			}
		}
	}
	if m.Reconnects > 0 {
		m.Reconnects-- // the first ready is the initial connection
	}

	if hasFault {
		// The loss the recovery is measured from: the declared detection, or
		// the fault start for faults in force before the first connection.
		lossAt := start
		if m.DetectedAt != nil {
			lossAt = *m.DetectedAt
		}
		// State at the fault end, then the first ready after it.
		ready, readySince := false, math.Inf(-1)
		for _, e := range evs {
			if e.TMS > end {
				if m.RecoveredAt == nil && e.Kind == string(client.EventReady) && e.TMS >= lossAt {
					m.RecoveredAt = ptr(e.TMS)
				}
				continue
			}
			switch e.Kind {
			case string(client.EventReady):
				ready, readySince = true, e.TMS
			case string(client.EventDisconnected), string(client.EventFatal), string(client.EventStopped):
				ready = false
			}
		}
		if ready && readySince >= lossAt {
			m.RecoveredAt = ptr(end)
		}
		recoveredBy := math.Inf(1)
		if m.RecoveredAt != nil {
			recoveredBy = *m.RecoveredAt
		}
		for _, e := range evs {
			if e.Kind == string(client.EventDialing) && e.TMS >= start && e.TMS <= recoveredBy {
				m.Attempts++
			}
		}
	}
	return m
}

// MeasureAll measures every client.
func (tl *Timeline) MeasureAll() []ClientMeasure {
	out := make([]ClientMeasure, len(tl.Clients))
	for i, id := range tl.Clients {
		out[i] = tl.Measure(id)
	}
	return out
}

// Summary folds the per-client figures into the result's Measured: the worst
// client for times and attempts, the total for reconnects.
func (tl *Timeline) Summary() reports.Measured {
	var out reports.Measured
	worst := func(cur *float64, v *float64) *float64 {
		if v == nil {
			return cur
		}
		if cur == nil || *v > *cur {
			return ptr(*v)
		}
		return cur
	}
	all := tl.MeasureAll()
	if len(all) > 1 {
		for _, m := range all {
			out.PerClient = append(out.PerClient, reports.ClientFigure{
				Client: m.Client, DetectMS: m.Detect(tl), RecoverMS: m.Recover(tl), Attempts: m.Attempts})
		}
	}
	for _, m := range all {
		if d := m.Detect(tl); d != nil && (out.DetectMS == nil || *d > *out.DetectMS) {
			out.DetectMS, out.DetectedAtMS = ptr(*d), ptr(*m.DetectedAt)
		}
		if d := m.Recover(tl); d != nil && (out.RecoverMS == nil || *d > *out.RecoverMS) {
			out.RecoverMS, out.RecoveredAtMS = ptr(*d), ptr(*m.RecoveredAt)
		}
		out.DowntimeMS = worst(out.DowntimeMS, m.Downtime())
		out.Attempts = max(out.Attempts, m.Attempts)
		out.Resumed += m.Resumed
		out.Reconnects += m.Reconnects
		if len(tl.Clients) == 1 {
			out.DelaysMS = slices.Clone(m.DelaysMS)
		}
	}
	if tl.speaksProtocol() {
		var up, down reports.Flow
		for _, id := range tl.Clients {
			u, d := tl.Flows(id)
			addFlow(&up, u)
			addFlow(&down, d)
		}
		out.Up, out.Down = &up, &down
	}
	return out
}

func addFlow(to *reports.Flow, f reports.Flow) {
	to.Sent += f.Sent
	to.Delivered += f.Delivered
	to.Lost += f.Lost
	to.Duplicated += f.Duplicated
	to.Reordered += f.Reordered
	to.Gap += f.Gap
	if room := 10 - len(to.Missing); room > 0 {
		to.Missing = append(to.Missing, f.Missing[:min(room, len(f.Missing))]...)
	}
}

// speaksProtocol reports whether the clients took part in the sequenced
// workload (the harness's own "sent" or "received" events exist).
func (tl *Timeline) speaksProtocol() bool {
	for _, e := range tl.Events {
		if e.Source == SourceClient && (e.Kind == KindSent || e.Kind == KindReceived) {
			return true
		}
	}
	return false
}
