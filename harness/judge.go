package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/result"
)

// judge turns the recorded run into its result: the timeline, the faults
// as they took effect, the targets, the checks (validity first), the
// figures and the verdict.
func (r *run) judge(ctx context.Context, err error) result.Scenario {
	res := result.Scenario{
		Name: r.sc.Name, Description: r.sc.Description, Client: r.opts.ClientName, Clients: max(r.sc.Clients, 1),
		Faults: r.faultWindows(), Targets: []result.Target{}, Checks: []result.Check{}, Timeline: r.rec.snapshot(),
	}
	res.DurationMS = ms(time.Since(r.started))
	r.mu.Lock()
	res.Link = r.link
	r.mu.Unlock()
	if r.effective != nil {
		checks := r.sc.Checks(*r.effective)
		tl := &Timeline{Events: res.Timeline, Faults: res.Faults, Clients: r.ids, Options: *r.effective, Plain: r.plain()}
		for _, c := range checks {
			res.Targets = append(res.Targets, c.Target)
			if c.window > 0 {
				tl.HerdWindow = ms(c.window)
			}
		}
		res.Checks = append(res.Checks, r.validity()...)
		res.Checks = append(res.Checks, Evaluate(tl, checks)...)
		res.Measured = tl.Summary()
		res.Profile = ProfileOf(*r.effective)
	}
	res.Verdict = Judge(res.Checks)
	switch {
	case ctx.Err() != nil:
		res.Verdict = result.Interrupted
		res.Error = fmt.Sprintf("interrupted after %v: the figures are partial and judge nothing", time.Since(r.started).Round(time.Millisecond))
	case err != nil:
		res.Error = err.Error()
		res.Verdict = result.Fail
	}
	r.log.Info("scenario done", "verdict", res.Verdict, "ms", int(res.DurationMS))
	return res
}

// validity holds the guards against empty passes: a run whose fault never
// took effect, or that never warmed up, fails as invalid.
func (r *run) validity() []result.Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []result.Check
	valid := result.Target{Name: "valid-run", Want: "a warmed-up run"}
	for _, why := range r.invalids {
		out = append(out, Verdict(valid, false, why, nil, ""))
	}
	applied := result.Target{Name: "faults-applied", Want: fmt.Sprint(len(r.sc.Faults)), Unit: result.UnitCount, Limit: float64(len(r.sc.Faults))}
	if want := len(r.sc.Faults); len(r.windows) != want {
		out = append(out, Verdict(applied, false, fmt.Sprintf("%d of %d faults took effect", len(r.windows), want), ptr(float64(len(r.windows))), ""))
	}
	return out
}

// ProfileOf states a client profile in the result's terms.
func ProfileOf(o client.Options) *result.Profile {
	b := o.Backoff
	jitter := b.Jitter
	if b.NoJitter {
		jitter = 0
	}
	return &result.Profile{
		PingIntervalMS: ms(o.PingInterval), PongTimeoutMS: ms(o.PongTimeout), AckTimeoutMS: ms(o.AckTimeout),
		HandshakeTimeoutMS: ms(o.HandshakeTimeout), CloseGraceMS: ms(o.CloseGrace),
		MinHealthyUptimeMS: ms(o.MinHealthyUptime), HintMaxMS: ms(o.HintMax),
		Backoff: result.BackoffPolicy{InitialMS: ms(b.Initial), MaxMS: ms(b.Max), Multiplier: b.Multiplier, Jitter: jitter},
	}
}
