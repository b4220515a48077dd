package stress

import (
	"math"
	"sort"
	"time"

	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// windowMS is the width of the herd windows.
const windowMS = 100

// issuedAt is when the harness issued fault f: its effect can reach the
// clients before the call that made it returns.
func issuedAt(f result.Fault) float64 {
	if f.IssuedMS > 0 && f.IssuedMS < f.StartMS {
		return f.IssuedMS
	}
	return f.StartMS
}

// asApplied is p with the outage it really caused: from the moment the
// harness issued the fault to the moment its end took effect. With
// thousands of connections, disabling a proxy or stopping a server takes
// seconds, during which clients are already cut off, so their backoff runs
// further than the planned duration alone allows.
func (p Planned) asApplied(w result.Fault) Planned {
	if p.For == 0 {
		return p
	}
	if real := time.Duration((w.EndMS - issuedAt(w)) * float64(time.Millisecond)); real > p.For {
		p.For = real
	}
	return p
}

// faultStats measures every client against one fault with
// harness.Timeline.Measure, on the client's events from the fault's issue
// to the next fault's. It returns the first dials after the fault end too.
//
// An instant fault (a close or a drop: no end step) ends for each client
// when it hits that client. With thousands of connections the step takes
// a second or more to return, and measuring from its return would hide the
// recovery of the clients it hit first: each client's recovery and redial
// run from the earlier of the recorded end and its own loss.
func (c *coord) faultStats(w result.Fault, next float64, instant bool) (result.StressFault, []float64) {
	fs := result.StressFault{Kind: w.Kind, Text: w.Text, StartMS: w.StartMS, EndMS: w.EndMS}
	from := issuedAt(w)
	var detect, redial, recov, attempts, readies, firstDials []float64
	for i, cs := range c.clients[1:] {
		id := clientID(i + 1)
		lo := sort.Search(len(cs.events), func(k int) bool { return cs.events[k].TMS >= from })
		hi := sort.Search(len(cs.events), func(k int) bool { return cs.events[k].TMS >= next })
		tl := &h.Timeline{Events: cs.events[lo:hi], Faults: []result.Fault{w}, Clients: []string{id}, Options: c.eff}
		m := tl.Measure(id)
		if instant && m.DetectedAt != nil && *m.DetectedAt < w.EndMS {
			own := w
			own.EndMS = *m.DetectedAt
			own.StartMS = min(own.StartMS, own.EndMS)
			tl.Faults = []result.Fault{own}
			m = tl.Measure(id)
		}
		if d := m.Detect(tl); d != nil {
			fs.Disconnected++
			detect = append(detect, *d)
		} else if m.Disconnects > 0 {
			fs.Disconnected++
		}
		if r := m.Recover(tl); r != nil {
			fs.Recovered++
			recov = append(recov, *r)
			attempts = append(attempts, float64(m.Attempts))
		} else if m.Attempts > 0 {
			attempts = append(attempts, float64(m.Attempts))
		}
		if r := redialAfter(tl, m); r != nil {
			redial = append(redial, *r)
		}
		first := true
		for _, e := range tl.Events {
			if e.TMS < w.EndMS {
				continue
			}
			switch e.Kind {
			case result.KindReady:
				readies = append(readies, e.TMS)
			case result.KindDialing:
				if first {
					firstDials = append(firstDials, e.TMS)
					first = false
				}
			}
		}
	}
	fs.Detect, fs.Redial, fs.Recover, fs.Attempts = h.Distribute(detect), h.Distribute(redial), h.Distribute(recov), h.Distribute(attempts)
	fs.RecoverCDF = h.CDF(recov, len(c.clients)-1, 50)
	fs.ReconnectsPer100ms = h.Histogram(readies, w.EndMS, windowMS, 200)
	fs.FirstDialsPer100ms = h.Histogram(firstDials, w.EndMS, windowMS, 200)
	return fs, firstDials
}

// redialAfter is the client's own part of a recovery: the wait from the
// later of the fault end and the moment it declared the connection lost to
// its next dial. A client that is connected or dialling at that moment (a
// dial that goes on to connect) was not waiting: 0. It is nil for a client
// that did not lose the connection or never dialled again.
func redialAfter(tl *h.Timeline, m h.ClientMeasure) *float64 {
	if m.DetectedAt == nil {
		return nil
	}
	from := math.Max(tl.FaultEnd(), *m.DetectedAt)
	zero := 0.0
	// dialing: a dial started before from and not ended; up: connected
	// after the loss and before from, and not lost again.
	dialing, up := false, false
	for _, e := range tl.Events {
		if e.TMS >= from && up {
			return &zero
		}
		switch e.Kind {
		case result.KindDialing:
			if e.TMS >= from {
				d := e.TMS - from
				return &d
			}
			dialing = true
		case result.KindConnected:
			if dialing && e.TMS >= from {
				return &zero
			}
			dialing, up = false, e.TMS >= *m.DetectedAt
		case result.KindDisconnected:
			dialing, up = false, false
		}
	}
	if up {
		return &zero
	}
	return nil
}
