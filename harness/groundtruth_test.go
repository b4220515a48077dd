package harness_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/groundtruth"
	"github.com/wschaos/wschaos/reports"
)

// TestGroundTruth runs scenarios whose detection and recovery times follow
// from their configuration (jitter off; see package groundtruth) and holds
// the harness's measurements against them. The allowance on each truth is
// groundtruth.Tolerance: 25 ms × time scale for scheduling, plus 10% of the
// truth. The cases run one after another, not in parallel, because
// concurrent scenarios would add their own scheduling delay to the error
// being measured.
func TestGroundTruth(t *testing.T) {
	var errs []float64
	for _, c := range groundtruth.Cases(groundTruthScale) {
		t.Run(c.Name(), func(t *testing.T) {
			res := harness.Run(t.Context(), c.Scenario, harness.RunOptions{Seed: 1})
			figs, err := c.Figures(res)
			require.NoError(t, err, "timeline without pushes:\n%s", timeline(res))
			assert.Equal(t, reports.Pass, res.Verdict, "the scenario's own checks: %v", res.Checks)
			ok := true
			for _, f := range figs {
				ok = assert.True(t, f.OK(), "%s: got %.1f ms, want %s; %s", f.Name, f.Got, f.Want(), f.Why) && ok
				t.Logf("%s: got %.1f ms, want %s, error %+.1f ms", f.Name, f.Got, f.Want(), f.Error())
			}
			if !ok {
				t.Logf("timeline without pushes:\n%s", timeline(res))
			}
			errs = append(errs, groundtruth.Errors(figs)...)
		})
	}
	if len(errs) > 0 {
		t.Logf("measurement error over %d exact figures: %s", len(errs), summary(errs))
	}
}

// timeline renders what a failure needs: every event but the pushes.
func timeline(res reports.Scenario) string {
	var b strings.Builder
	for _, f := range res.Faults {
		fmt.Fprintf(&b, "  fault %s issued %.1f, %.1f..%.1f ms\n", f.Kind, f.IssuedMS, f.StartMS, f.EndMS)
	}
	for _, e := range res.Timeline {
		if e.Kind == harness.KindReceived || e.Kind == "send" {
			continue
		}
		fmt.Fprintf(&b, "  %8.1f %-7s #%-2d %-16s code=%d attempt=%d delay=%.0f %s\n",
			e.TMS, e.Source, e.Conn, e.Kind, e.Code, e.Attempt, e.DelayMS, e.Detail)
	}
	return b.String()
}

func summary(errs []float64) string {
	var sum float64
	for _, e := range errs {
		sum += e
	}
	return fmt.Sprintf("mean %.2f ms, max %.2f ms", sum/float64(len(errs)), slices.Max(errs))
}
