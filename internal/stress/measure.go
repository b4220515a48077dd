package stress

import (
	"math"
	"slices"
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

// faultRaw measures every client against one fault with
// harness.Timeline.Measure, on the client's events from the fault's issue
// to the next fault's, and returns each client's figures and how many
// clients lost the connection and recovered.
//
// An instant fault (a close or a drop: no end step) ends for each client
// when it hits that client. With thousands of connections the step takes
// a second or more to return, and measuring from its return would hide the
// recovery of the clients it hit first: each client's recovery and redial
// run from the earlier of the recorded end and its own loss.
//
// An end step can take as long: lifting a black hole closes every
// connection it held, 1-6 s at 10,000 a chain shard, and a client whose
// held connection closed early would have the rest of the step for free.
// So a fault whose end step began at stopBegan (the earliest shard; 0 for
// none) ends for each client at the earlier of the recorded end and its
// first loss since stopBegan.
func (c *coord) faultRaw(w result.Fault, next float64, instant bool, stopBegan float64) (raw result.StressRaw, disconnected, recovered int) {
	from := issuedAt(w)
	us := func(ms float64) int64 { return int64(math.Round(ms * 1000)) }
	for i, cs := range c.clients {
		id := clientID(c.first + i)
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
		if end, ok := endReached(tl.Events, stopBegan, w.EndMS); !instant && ok {
			own := w
			own.EndMS = end
			tl.Faults = []result.Fault{own}
			m = tl.Measure(id)
		}
		if d := m.Detect(tl); d != nil {
			disconnected++
			raw.DetectUS = append(raw.DetectUS, us(*d))
		} else if m.Disconnects > 0 {
			disconnected++
		}
		r := m.Recover(tl)
		if r != nil {
			recovered++
			raw.RecoverUS = append(raw.RecoverUS, us(*r))
		}
		if r != nil || m.Attempts > 0 {
			raw.Attempts = append(raw.Attempts, int64(m.Attempts))
		}
		if r := redialAfter(tl, m); r != nil {
			raw.RedialUS = append(raw.RedialUS, us(*r))
		}
		first := true
		for _, e := range tl.Events {
			if e.TMS < w.EndMS {
				continue
			}
			switch e.Kind {
			case result.KindReady:
				raw.ReadyUS = append(raw.ReadyUS, us(e.TMS-w.EndMS))
			case result.KindDialing:
				if first {
					raw.FirstDialUS = append(raw.FirstDialUS, us(e.TMS-w.EndMS))
					first = false
				}
			}
		}
	}
	for _, v := range []result.Ints{raw.DetectUS, raw.RedialUS, raw.RecoverUS, raw.Attempts, raw.FirstDialUS, raw.ReadyUS} {
		slices.Sort(v)
	}
	return raw, disconnected, recovered
}

// endReached is when a fault's end step, begun at stopBegan and done at
// end, reached a client: its first loss in between (a held connection
// closed, a dial refused or cut), if it had one.
func endReached(evs []result.Event, stopBegan, end float64) (float64, bool) {
	if stopBegan <= 0 || stopBegan >= end {
		return 0, false
	}
	k := sort.Search(len(evs), func(k int) bool { return evs[k].TMS >= stopBegan })
	for _, e := range evs[k:] {
		if e.TMS >= end {
			break
		}
		if e.Kind == result.KindDisconnected {
			return e.TMS, true
		}
	}
	return 0, false
}

// Aggregate computes fs's distributions, recovery CDF and histograms from
// its raw figures, over total clients: one run's or, merged, every shard
// run's together.
func Aggregate(fs *result.StressFault, total int) {
	raw := fs.Raw
	if raw == nil {
		raw = &result.StressRaw{}
	}
	recov := msValues(raw.RecoverUS)
	attempts := make([]float64, len(raw.Attempts))
	for i, a := range raw.Attempts {
		attempts[i] = float64(a)
	}
	fs.Detect, fs.Redial, fs.Recover, fs.Attempts = h.Distribute(msValues(raw.DetectUS)), h.Distribute(msValues(raw.RedialUS)), h.Distribute(recov), h.Distribute(attempts)
	fs.RecoverCDF = h.CDF(recov, total, 50)
	fs.ReconnectsPer100ms = h.Histogram(msValues(raw.ReadyUS), 0, windowMS, 200)
	fs.FirstDialsPer100ms = h.Histogram(msValues(raw.FirstDialUS), 0, windowMS, 200)
}

// msValues is v, in microseconds, as milliseconds.
func msValues(v result.Ints) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) / 1000
	}
	return out
}

// skews sets fs's start and end skews from its shard timings: the latest
// shard to begin a step minus the earliest.
func skews(fs *result.StressFault) {
	spread := func(get func(result.StressShardTiming) float64) float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, t := range fs.Shards {
			lo, hi = math.Min(lo, get(t)), math.Max(hi, get(t))
		}
		if len(fs.Shards) == 0 {
			return 0
		}
		return hi - lo
	}
	fs.StartSkewMS = spread(func(t result.StressShardTiming) float64 { return t.BeganMS })
	fs.EndSkewMS = spread(func(t result.StressShardTiming) float64 { return t.StopMS })
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
