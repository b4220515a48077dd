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
	"github.com/wschaos/wschaos/result"
)

// TestGroundTruth runs scenarios whose detection and recovery times follow
// from their configuration (jitter off; see package groundtruth) and holds
// the harness's measurements against them. The allowance on each truth is
// groundtruth.Tolerance, 25 ms × time scale for scheduling plus 10% of the
// truth, plus any stall of the machine itself that a timer probe measured
// during the figure's window (reported in the message as "+ stall"; a
// stalled machine makes the client late, not the harness wrong). The cases
// run one after another, not in parallel, because concurrent scenarios would
// add their own scheduling delay to the error being measured.
//
// Failure messages read "got X ms, want Y ± Z ms" with where Y comes from.
func TestGroundTruth(t *testing.T) {
	var errs []float64
	for _, c := range groundtruth.Cases(groundTruthScale) {
		t.Run(c.Name(), func(t *testing.T) {
			res, figs, err := c.Run(t.Context(), harness.RunOptions{Seed: 1})
			require.NoError(t, err, "timeline without pushes:\n%s", groundTruthTimeline(res))
			// The scenario's own checks (harness slack) are not what this
			// test is about; the figures below are.
			ok := true
			for _, f := range figs {
				ok = assert.True(t, f.OK(), "%s: got %.1f ms, want %s; %s", f.Name, f.Got, f.Want(), f.Why) && ok
				t.Logf("%s: got %.1f ms, want %s, error %+.1f ms", f.Name, f.Got, f.Want(), f.Error())
			}
			if !ok {
				t.Logf("timeline without pushes:\n%s", groundTruthTimeline(res))
			}
			errs = append(errs, groundtruth.Errors(figs)...)
		})
	}
	if len(errs) > 0 {
		t.Logf("measurement error over %d exact figures: %s", len(errs), errorSummary(errs))
	}
}

// groundTruthTimeline renders what a failure needs: every event but the pushes.
func groundTruthTimeline(res result.Scenario) string {
	var b strings.Builder
	for _, f := range res.Faults {
		fmt.Fprintf(&b, "  fault %s issued %.1f, %.1f..%.1f ms\n", f.Kind, f.IssuedMS, f.StartMS, f.EndMS)
	}
	for _, e := range res.Timeline {
		if e.Kind == result.KindReceived || e.Kind == result.KindSend {
			continue
		}
		fmt.Fprintf(&b, "  %s\n", e.String())
	}
	return b.String()
}

func errorSummary(errs []float64) string {
	var sum float64
	for _, e := range errs {
		sum += e
	}
	return fmt.Sprintf("mean %.2f ms, max %.2f ms", sum/float64(len(errs)), slices.Max(errs))
}
