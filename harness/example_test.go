package harness_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

// A scenario of your own, from your own module: a custom fault (any
// Toxiproxy toxic by type and attributes: here bandwidth 0, which stalls
// both directions) then a built-in one, targets derived from the client's
// profile with the exported helpers, a run, and the report.
func Example_customScenario() {
	sc := harness.Scenario{
		Name:        "StalledLink",
		Description: "Both directions stall for 800 ms, then the proxy drops every connection.",
		Client:      client.Options{Session: true, PingInterval: 200 * time.Millisecond, PongTimeout: 150 * time.Millisecond},
		Server:      fakeserver.Options{PushInterval: 50 * time.Millisecond},
		Faults: []harness.Fault{
			harness.ToxicFault("stall", 300*time.Millisecond, 800*time.Millisecond,
				harness.Toxic{Type: "bandwidth", Stream: harness.Upstream, Attributes: map[string]int{"rate": 0}},
				harness.Toxic{Type: "bandwidth", Stream: harness.Downstream, Attributes: map[string]int{"rate": 0}}),
			harness.ProxyDown(2*time.Second, 100*time.Millisecond),
		},
		Checks: func(o client.Options) []harness.Check {
			return []harness.Check{
				harness.Defining(harness.DetectSilenceWithin(harness.HeartbeatBound(o))),
				harness.RecoverAfterOutage(o, 1800*time.Millisecond, 1),
				harness.NoLoss("resend, resume and dedup across both faults"),
			}
		},
	}
	res := &result.Result{Scenarios: []result.Scenario{harness.Run(context.Background(), sc, harness.RunOptions{Seed: 1})}}
	harness.Conclude(res, nil)
	dir, _ := os.MkdirTemp("", "wschaos-example-")
	defer os.RemoveAll(dir)
	if err := reports.WriteFiles(dir, res); err != nil {
		fmt.Println(err)
	}
	fmt.Println(sc.Name, res.Verdict)
	// Output: StalledLink pass
}
