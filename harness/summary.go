package harness

import (
	"slices"
	"time"

	"github.com/wschaos/wschaos/result"
)

// defaultHerdWindow is the window reconnects are counted in when the
// scenario's checks name none.
const defaultHerdWindow = 100 * time.Millisecond

// Summary folds the per-client figures into the result's Measured: the
// worst client for times and attempts, totals for reconnects and messages,
// every backoff delay against its envelope and, for several clients, how
// they spread. It is the one place the figures a report draws are worked
// out.
func (tl *Timeline) Summary() result.Measured {
	var out result.Measured
	all := tl.MeasureAll()
	if len(tl.outsideClients()) > 0 {
		out.Via = result.ViaWire
	}
	if !isNaN(tl.FaultStart()) {
		out.DetectFromMS, out.RecoverFromMS = ptr(tl.FaultStart()), ptr(tl.FaultEnd())
	}
	for _, m := range all {
		tl.foldWorst(&out, m)
		out.Attempts = max(out.Attempts, m.Attempts)
		out.Resumed += m.Resumed
		out.Reconnects += m.Reconnects
		for _, e := range m.Delays {
			out.Delays = append(out.Delays, tl.delayOf(e))
		}
	}
	if len(all) > 1 {
		for _, m := range all {
			out.PerClient = append(out.PerClient, result.ClientFigure{
				Client: m.Client, DetectMS: m.Detect(tl), DetectSilenceMS: m.DetectFromSilence(),
				RecoverMS: m.Recover(tl), Attempts: m.Attempts})
		}
		out.Spread = tl.spread(all)
	}
	if !tl.Plain && tl.speaksProtocol() {
		var up, down result.Flow
		for _, id := range tl.Clients {
			u, d := tl.Flows(id)
			AddFlow(&up, u)
			AddFlow(&down, d)
		}
		out.Up, out.Down = &up, &down
		out.Undelivered = up.Undelivered
	}
	return out
}

// foldWorst keeps the worst (largest) detection, recovery and downtime of
// the clients, with the moments they were measured at.
func (tl *Timeline) foldWorst(out *result.Measured, m ClientMeasure) {
	if d := m.Detect(tl); d != nil && (out.DetectMS == nil || *d > *out.DetectMS) {
		out.DetectMS, out.DetectedAtMS = ptr(*d), ptr(*m.DetectedAt)
	}
	if d := m.DetectFromSilence(); d != nil && (out.DetectSilenceMS == nil || *d > *out.DetectSilenceMS) {
		out.DetectSilenceMS, out.SilenceFromMS = ptr(*d), ptr(*m.SilenceFrom)
	}
	if d := m.Recover(tl); d != nil && (out.RecoverMS == nil || *d > *out.RecoverMS) {
		out.RecoverMS, out.RecoveredAtMS = ptr(*d), ptr(*m.RecoveredAt)
	}
	if d := m.Downtime(); d != nil && (out.DowntimeMS == nil || *d > *out.DowntimeMS) {
		out.DowntimeMS = ptr(*d)
	}
}

// delaySlackMS is the rounding allowed a delay against its envelope: the
// client reports whole nanoseconds, results hold milliseconds.
const delaySlackMS = 0.5

// wireSlack is how much later than the policy an outside client's delay may
// look: the tap measures from the socket's close to the next connect, which
// adds the client's teardown and its dial's start (in a runtime we cannot
// see into, such as Node.js's event loop) to the delay it chose. It may
// also look up to AtOnce shorter (wireTeardown): the client's timer may
// start a moment before the tap sees its socket close.
const wireSlack = 100 * time.Millisecond

// delayOf holds one backoff event against the envelope of its attempt, or
// against the hint it honoured.
func (tl *Timeline) delayOf(e result.Event) result.Delay {
	lo, hi := tl.Options.Backoff.Envelope(max(e.Attempt, 1))
	d := result.Delay{Client: e.Client, AtMS: e.TMS, Attempt: e.Attempt, DelayMS: e.DelayMS,
		LoMS: ms(lo), HiMS: ms(hi), HintMS: e.HintMS, Via: e.Via}
	over, under := delaySlackMS, delaySlackMS+wireTeardown(e)
	if e.Via == result.ViaWire {
		over += ms(wireSlack)
	}
	if e.HintMS > 0 {
		d.InPolicy = e.DelayMS+under >= e.HintMS
	} else {
		d.InPolicy = e.DelayMS > 0 && e.DelayMS+under >= d.LoMS && e.DelayMS-over <= d.HiMS
	}
	return d
}

// spread summarises several clients: percentiles of their figures, the
// share recovered over time, and their dials per herd window.
func (tl *Timeline) spread(all []ClientMeasure) *result.Spread {
	var det, rec, att []float64
	for _, m := range all {
		if d := m.Detect(tl); d != nil {
			det = append(det, *d)
		}
		if r := m.Recover(tl); r != nil {
			rec = append(rec, *r)
		}
		att = append(att, float64(m.Attempts))
	}
	sp := &result.Spread{Clients: len(all), Recovered: len(rec),
		Detect: Distribute(det), Recover: Distribute(rec), Attempts: Distribute(att)}
	sp.RecoverCDF = CDF(rec, len(all), 200)
	if isNaN(tl.FaultEnd()) {
		return sp
	}
	sp.WindowMS, sp.FromMS = tl.herdWindow(), tl.FaultEnd()
	first, other := tl.dials()
	sp.FirstDials = buckets(first, sp.FromMS, sp.WindowMS)
	sp.OtherDials = buckets(other, sp.FromMS, sp.WindowMS)
	return sp
}

func (tl *Timeline) herdWindow() float64 {
	if tl.HerdWindow > 0 {
		return tl.HerdWindow
	}
	return ms(defaultHerdWindow)
}

// dials returns, since the first fault, each client's first dial at or
// after the last fault's end (what the herd check holds) and every other
// dial.
func (tl *Timeline) dials() (first, other []float64) {
	start, end := tl.faultIssued(), tl.FaultEnd()
	for _, id := range tl.Clients {
		done := false
		for _, e := range tl.ClientEvents(id) {
			if e.Kind != result.KindDialing || e.TMS < start {
				continue
			}
			if e.TMS >= end && !done {
				done = true
				first = append(first, e.TMS)
			} else {
				other = append(other, e.TMS)
			}
		}
	}
	return first, other
}

// AddFlow adds f's counts to the total to, keeping the first 10 missing
// sequence numbers: how the totals over many clients are made, here and in
// the stress run.
func AddFlow(to *result.Flow, f result.Flow) {
	to.Sent += f.Sent
	to.Delivered += f.Delivered
	to.Lost += f.Lost
	to.Duplicated += f.Duplicated
	to.Reordered += f.Reordered
	to.Gap += f.Gap
	to.Undelivered += f.Undelivered
	if room := 10 - len(to.Missing); room > 0 {
		to.Missing = append(to.Missing, f.Missing[:min(room, len(f.Missing))]...)
	}
}

// speaksProtocol reports whether the clients took part in the sequenced
// workload (the harness's own "sent" or "received" events exist).
func (tl *Timeline) speaksProtocol() bool {
	return slices.ContainsFunc(tl.Events, func(e result.Event) bool {
		return e.Source == result.SourceClient && (e.Kind == result.KindSent || e.Kind == result.KindReceived)
	})
}
