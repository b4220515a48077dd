package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/groundtruth"
)

// BenchmarkMeasurementError runs the ground-truth cases (package
// groundtruth) once per iteration and reports |measured - truth| over their
// exact figures: the mean for detection and for recovery, the largest, and
// the longest machine stall the timer probe saw meanwhile (a stall makes
// the client itself late, so a large error with a large stall is the
// machine, not the harness).
func BenchmarkMeasurementError(b *testing.B) {
	var det, rec []float64
	var worstStall float64
	for b.Loop() {
		for _, c := range groundtruth.Cases(1) {
			_, figs, err := c.Run(context.Background(), harness.RunOptions{Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range figs {
				if !f.Exact() {
					continue
				}
				worstStall = max(worstStall, f.Stall)
				switch f.Name {
				case "recover":
					rec = append(rec, math.Abs(f.Error()))
				default:
					det = append(det, math.Abs(f.Error()))
				}
			}
		}
	}
	b.ReportMetric(mean(det), "detect-err-ms")
	b.ReportMetric(mean(rec), "recover-err-ms")
	b.ReportMetric(slices.Max(append(slices.Clone(det), rec...)), "max-err-ms")
	b.ReportMetric(worstStall, "stall-ms")
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// massClients is how many clients BenchmarkMassRecovery drops at once.
const massClients = 200

// BenchmarkMassRecovery drops massClients clients at once (the proxy is down
// for 500 ms) with jitter off, so that every client redials at the same
// instant, 700 ms after the loss (retries at 100, 300 and 700 ms): one herd.
// It reports how many clients per second the chain (tap, Toxiproxy, fake
// server, clients, recorder) brings back, from the first redial after the
// network returned to the last client ready; and the worst recovery time.
// This is capacity, not policy: with jitter on, the catalogue's MassDrop
// spreads the same herd over the backoff window on purpose.
func BenchmarkMassRecovery(b *testing.B) {
	outage := 500 * time.Millisecond
	sc := harness.Scenario{
		Name:    "MassRecovery",
		Clients: massClients,
		Client: client.Options{
			Session:      true,
			PingInterval: time.Second, PongTimeout: time.Second,
			HandshakeTimeout: 5 * time.Second, CloseGrace: 100 * time.Millisecond,
			Backoff:          client.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, NoJitter: true},
			MinHealthyUptime: 2 * time.Second,
		},
		Server:       fakeserver.Options{PushInterval: 250 * time.Millisecond},
		SendInterval: 250 * time.Millisecond,
		Faults:       []harness.Fault{harness.ProxyDown(300*time.Millisecond, outage)},
		Checks: func(o client.Options) []harness.Check {
			return []harness.Check{harness.RecoverWithin(harness.NewBound(o.Backoff.Max+o.HandshakeTimeout, "one capped delay and a handshake"))}
		},
	}
	var rate, worst, herd []float64
	for b.Loop() {
		res := harness.Run(context.Background(), sc, harness.RunOptions{Seed: 1})
		if res.Error != "" {
			b.Fatalf("mass recovery did not run: %s", res.Error)
		}
		ids := make([]string, massClients)
		for i := range ids {
			ids[i] = fmt.Sprintf("c%d", i+1)
		}
		tl := &harness.Timeline{Events: res.Timeline, Faults: res.Faults, Clients: ids}
		end := tl.FaultEnd()
		firstDial, last, slowest := math.Inf(1), math.Inf(-1), 0.0
		for _, id := range ids {
			m := tl.Measure(id)
			r := m.Recover(tl)
			if r == nil {
				b.Fatalf("client %s never recovered", id)
			}
			last, slowest = max(last, *m.RecoveredAt), max(slowest, *r)
			for _, e := range tl.ClientEvents(id) {
				if e.Kind == client.EventDialing && e.TMS >= end {
					firstDial = min(firstDial, e.TMS)
					break
				}
			}
		}
		span := last - firstDial
		rate = append(rate, massClients/(span/1000))
		herd = append(herd, span)
		worst = append(worst, slowest)
	}
	b.ReportMetric(mean(rate), "clients/s")
	b.ReportMetric(mean(herd), "herd-ms")
	b.ReportMetric(mean(worst), "recover-max-ms")
}
