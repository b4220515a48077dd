package stress

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// ErrMerge is wrapped by every error Merge returns for inputs that cannot
// be merged.
var ErrMerge = errors.New("stress: cannot merge")

// MergeNote states what a merged result can and cannot claim; the README
// and the merged report say the same.
const MergeNote = "Each shard ran its own share of the clients against its own chain (servers and proxies) on its own machine, " +
	"with the same seeded schedule started at the same scheduled wall-clock time. The distributions are recomputed from every client's own figures, not averaged. " +
	"What it can claim: how every client's policy behaved under faults that hit every shard at the same scheduled time, within the start skew measured per fault. " +
	"What it cannot: no single server saw the whole herd (each saw its shard's share, so server-side capacity is measured per shard, not for the total); " +
	"the shards' fault times agree only as well as their machines' clocks (NTP or chrony, typically within a few ms; the skew shown includes that offset); " +
	"and a shard whose clients were slow to recover slides its own later faults, which the other shards do not follow."

// Merge combines the results of every shard of one split run (wschaos
// stress --shard I/N) into one result: fault by fault, the clients'
// figures of every shard together, with the distributions and the checks
// computed again over all of them; the whole-run checks (warm-up, message
// continuity, backoff policy) as the conjunction of the shards' own. The
// inputs must be shard runs of the same seed, schedule and profile, with
// distinct indexes that cover every shard; anything else is an error
// wrapping ErrMerge that says which input and why.
func Merge(parts []*result.Result, names []string) (*result.Result, error) {
	sts, err := checkParts(parts, names)
	if err != nil {
		return nil, err
	}
	st0 := sts[0]
	sched, err := NewSchedule(st0.Seed, time.Duration(st0.DurationMS*float64(time.Millisecond)), st0.Timescale)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMerge, err)
	}
	m := &merger{parts: parts, sts: sts, sched: sched, eff: effective(st0.Timescale)}
	return m.merge(), nil
}

// checkParts returns each part's stress figures, in shard order (parts and
// names are sorted the same way), or says why they do not belong together.
func checkParts(parts []*result.Result, names []string) ([]*result.StressStats, error) {
	if len(parts) < 1 {
		return nil, fmt.Errorf("%w: no results given", ErrMerge)
	}
	bad := func(i int, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrMerge, names[i], fmt.Sprintf(format, args...))
	}
	sts := make([]*result.StressStats, len(parts))
	for i, r := range parts {
		if len(r.Scenarios) != 1 || r.Scenarios[0].Name != ScenarioName || r.Scenarios[0].Stress == nil {
			return nil, bad(i, "not a stress result (want one %q scenario with stress figures)", ScenarioName)
		}
		st := r.Scenarios[0].Stress
		switch {
		case len(st.Merged) > 0:
			return nil, bad(i, "already a merged result; merge the shard runs themselves")
		case st.Shard == nil:
			return nil, bad(i, "not a shard run: run each shard with wschaos stress --shard I/N")
		}
		sts[i] = st
	}
	// Shard order, then the checks that compare each with the first.
	idx := make([]int, len(parts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return sts[a].Shard.Index - sts[b].Shard.Index })
	sortedP, sortedS, sortedN := make([]*result.Result, len(idx)), make([]*result.StressStats, len(idx)), make([]string, len(idx))
	for k, i := range idx {
		sortedP[k], sortedS[k], sortedN[k] = parts[i], sts[i], names[i]
	}
	copy(parts, sortedP)
	copy(sts, sortedS)
	copy(names, sortedN)
	a := sts[0]
	for i, st := range sts {
		sp, sa := st.Shard, a.Shard
		for _, d := range []struct {
			what      string
			got, want any
		}{
			{"seed", st.Seed, a.Seed}, {"schedule duration (ms)", st.DurationMS, a.DurationMS}, {"time scale", st.Timescale, a.Timescale},
			{"client profile", st.Profile, a.Profile}, {"shard count", sp.Of, sa.Of}, {"total clients", sp.TotalClients, sa.TotalClients},
			{"proxy", st.Proxy, a.Proxy}, {"scheduled start (Unix ns)", sp.StartAtUnixNS, sa.StartAtUnixNS},
		} {
			if d.got != d.want {
				return nil, bad(i, "%s %v, but %s has %v: the shards of one run share seed, schedule, profile and start", d.what, d.got, names[0], d.want)
			}
		}
		if i > 0 && sp.Index == sts[i-1].Shard.Index {
			return nil, bad(i, "shard index %d again (also %s): each shard once", sp.Index, names[i-1])
		}
		if sp.Of < 1 {
			return nil, bad(i, "shard count %d: want 1 or more", sp.Of)
		}
		if sp.Index < 0 || sp.Index >= sp.Of {
			return nil, bad(i, "shard index %d of %d: want 0 to %d", sp.Index, sp.Of, sp.Of-1)
		}
	}
	if len(sts) != a.Shard.Of {
		var missing []string
		for k := 0; k < a.Shard.Of && len(missing) < 10; k++ {
			if !slices.ContainsFunc(sts, func(st *result.StressStats) bool { return st.Shard.Index == k }) {
				missing = append(missing, fmt.Sprint(k))
			}
		}
		return nil, fmt.Errorf("%w: the run was split into %d shards and %d are missing (first: %s): merge every shard's result", ErrMerge, a.Shard.Of, a.Shard.Of-len(sts), strings.Join(missing, ", "))
	}
	return sts, nil
}

type merger struct {
	parts []*result.Result
	sts   []*result.StressStats
	sched Schedule
	eff   client.Options
	// origin is the earliest shard run's time 0, in Unix ns.
	origin int64
}

// shift is how many ms part k's clock is behind the merged one.
func (m *merger) shift(k int) float64 { return float64(m.sts[k].OriginUnixNS-m.origin) / 1e6 }

func (m *merger) merge() *result.Result {
	m.origin = m.sts[0].OriginUnixNS
	for _, st := range m.sts {
		m.origin = min(m.origin, st.OriginUnixNS)
	}
	st0, sc0 := m.sts[0], &m.parts[0].Scenarios[0]
	st := result.StressStats{Clients: st0.Shard.TotalClients, Timescale: st0.Timescale, Seed: st0.Seed, DurationMS: st0.DurationMS,
		Profile: st0.Profile, Proxy: st0.Proxy, OriginUnixNS: m.origin, Faults: []result.StressFault{}, MergeNote: MergeNote}
	sc := result.Scenario{Name: ScenarioName, Client: sc0.Client, Clients: st.Clients, Profile: sc0.Profile,
		Targets: []result.Target{}, Checks: []result.Check{}, Faults: []result.Fault{}}
	maxPart := 0
	var errs []string
	for k, p := range m.sts {
		psc := &m.parts[k].Scenarios[0]
		st.Workers += p.Workers
		st.ChainShards += p.ChainShards
		st.Reconnects += p.Reconnects
		h.AddFlow(&st.Up, p.Up)
		h.AddFlow(&st.Down, p.Down)
		shard := *p.Shard
		shard.Verdict = psc.Verdict
		st.Merged = append(st.Merged, shard)
		maxPart = max(maxPart, p.Shard.Clients)
		for _, r := range p.Resources {
			r.Process = fmt.Sprintf("shard run %d: %s", p.Shard.Index, r.Process)
			st.Resources = append(st.Resources, r)
		}
		sc.DurationMS = max(sc.DurationMS, psc.DurationMS)
		if psc.Error != "" {
			errs = append(errs, fmt.Sprintf("shard run %d: %s", p.Shard.Index, psc.Error))
		}
	}
	for _, e := range sc0.Timeline {
		e.TMS += m.shift(0)
		sc.Timeline = append(sc.Timeline, e)
	}
	j := judged{&sc}
	var worst result.Measured
	faults := m.faults(&st, &sc)
	whole := m.wholeRunChecks()
	for _, ch := range whole.validity {
		j.add(ch.t, ch.c)
	}
	for i, fs := range faults {
		if i >= len(m.sched.Faults) {
			break
		}
		b := m.sched.Faults[i].asApplied(m.longest(i)).Bounds(m.eff, maxPart)
		judgeFault(j, i, b, fs, st.Clients, m.eff.Backoff.Jitter, &worst)
	}
	for _, ch := range whole.rest {
		j.add(ch.t, ch.c)
	}
	worst.Reconnects = st.Reconnects
	sc.Measured = worst
	sc.Description = describe(&st, len(m.sched.Faults), time.Duration(st.DurationMS*float64(time.Millisecond))) +
		fmt.Sprintf(" The timeline shows shard run %d's faults and its first client only. What a merged run can and cannot claim is under Shard runs merged.", st0.Shard.Index)
	sc.Verdict = h.Judge(sc.Checks)
	if len(errs) > 0 {
		sc.Error = strings.Join(errs, "; ")
		if sc.Verdict == result.Pass {
			sc.Verdict = result.Fail
		}
	}
	sc.Stress = &st
	r0 := m.parts[0]
	res := &result.Result{Schema: result.Schema, GeneratedAt: time.Now().UTC(), Run: r0.Run, Verdict: sc.Verdict, Scenarios: []result.Scenario{sc}}
	res.Run.DurationMS = sc.DurationMS
	for _, p := range m.parts {
		res.Run.Interrupted = res.Run.Interrupted || p.Run.Interrupted
	}
	return res
}

// faults merges every fault: windows and shard timings on the merged
// clock, counts summed, raw figures together and the aggregates computed
// again over every client.
func (m *merger) faults(st *result.StressStats, sc *result.Scenario) []result.StressFault {
	n := 0
	for _, p := range m.sts {
		n = max(n, len(p.Faults))
	}
	for i := range n {
		var fs result.StressFault
		w := result.Fault{Index: i + 1, IssuedMS: math.Inf(1), StartMS: math.Inf(-1), EndMS: math.Inf(-1)}
		raw := &result.StressRaw{}
		for k, p := range m.sts {
			if i >= len(p.Faults) {
				continue
			}
			pf, d := p.Faults[i], m.shift(k)
			fs.Kind, fs.Text = pf.Kind, pf.Text
			fs.Disconnected += pf.Disconnected
			fs.Recovered += pf.Recovered
			for _, t := range pf.Shards {
				t.BeganMS += d
				t.StartMS += d
				if t.StopMS != 0 {
					t.StopMS += d
					t.EndMS += d
				}
				fs.Shards = append(fs.Shards, t)
			}
			if pf.Raw != nil {
				raw.DetectUS = append(raw.DetectUS, pf.Raw.DetectUS...)
				raw.RedialUS = append(raw.RedialUS, pf.Raw.RedialUS...)
				raw.RecoverUS = append(raw.RecoverUS, pf.Raw.RecoverUS...)
				raw.Attempts = append(raw.Attempts, pf.Raw.Attempts...)
				raw.FirstDialUS = append(raw.FirstDialUS, pf.Raw.FirstDialUS...)
				raw.ReadyUS = append(raw.ReadyUS, pf.Raw.ReadyUS...)
			}
			if pw, ok := m.window(k, i); ok {
				w.Kind, w.Layer, w.Text = pw.Kind, pw.Layer, pw.Text
				w.IssuedMS = math.Min(w.IssuedMS, issuedAt(pw)+d)
				w.StartMS = math.Max(w.StartMS, pw.StartMS+d)
				w.EndMS = math.Max(w.EndMS, pw.EndMS+d)
			}
		}
		for _, v := range []result.Ints{raw.DetectUS, raw.RedialUS, raw.RecoverUS, raw.Attempts, raw.FirstDialUS, raw.ReadyUS} {
			slices.Sort(v)
		}
		fs.Raw = raw
		fs.StartMS, fs.EndMS = w.StartMS, w.EndMS
		skews(&fs)
		Aggregate(&fs, st.Clients)
		st.Faults = append(st.Faults, fs)
		if !math.IsInf(w.IssuedMS, 0) {
			sc.Faults = append(sc.Faults, w)
		}
	}
	return st.Faults
}

// window is part k's window of fault i.
func (m *merger) window(k, i int) (result.Fault, bool) {
	for _, w := range m.parts[k].Scenarios[0].Faults {
		if w.Index == i+1 {
			return w, true
		}
	}
	return result.Fault{}, false
}

// longest is fault i's window in the shard run where its outage, as
// applied, lasted longest: the bounds that follow the outage are the most
// any shard's clients were owed.
func (m *merger) longest(i int) result.Fault {
	var best result.Fault
	for k := range m.parts {
		if w, ok := m.window(k, i); ok && w.EndMS-issuedAt(w) > best.EndMS-issuedAt(best) {
			best = w
		}
	}
	return best
}

type namedCheck struct {
	t result.Target
	c result.Check
}

// wholeRunChecks are the checks that are not a fault's, each the
// conjunction of the shards' own: the validity checks (before the faults'
// in the scenario), then the others.
func (m *merger) wholeRunChecks() (out struct{ validity, rest []namedCheck }) {
	sc0 := &m.parts[0].Scenarios[0]
	faultChecks := true
	for ci, t := range sc0.Targets {
		if isFaultCheck(t.Name) {
			faultChecks = false
			continue
		}
		ch := namedCheck{t: t, c: sc0.Checks[ci]}
		var gots, margins []string
		var parts []result.Check
		for k := range m.parts {
			psc := &m.parts[k].Scenarios[0]
			idx := slices.IndexFunc(psc.Checks, func(c result.Check) bool { return c.Name == t.Name })
			label := fmt.Sprintf("shard %d", m.sts[k].Shard.Index)
			if idx < 0 {
				parts = append(parts, result.Check{Verdict: result.Fail})
				gots = append(gots, label+": no such check")
				continue
			}
			c := psc.Checks[idx]
			parts = append(parts, result.Check{Verdict: c.Verdict})
			gots = append(gots, label+": "+c.Got)
			if c.Margin != "" {
				margins = append(margins, label+": "+c.Margin)
			}
		}
		ch.c.Verdict = h.Judge(parts) // fail if any failed, n/a if none judged
		ch.c.Got, ch.c.Margin, ch.c.Value = clip(strings.Join(gots, "; "), 600), clip(strings.Join(margins, "; "), 600), nil
		if faultChecks {
			out.validity = append(out.validity, ch)
		} else {
			out.rest = append(out.rest, ch)
		}
	}
	return out
}

// isFaultCheck: a fault's checks are named f<N>-<kind>-<what>.
func isFaultCheck(name string) bool {
	rest, ok := strings.CutPrefix(name, "f")
	return ok && len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9'
}
