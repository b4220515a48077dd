package scenarios

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/leaktest"
	"github.com/wschaos/wschaos/result"
)

func TestMain(m *testing.M) {
	harness.QuietToxiproxy()
	// Scenarios spend most of their time waiting on timers, so they run far
	// more at once than go test's default of GOMAXPROCS (2 on CI machines).
	// An explicit -parallel wins.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "12")
	}
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

// seed is fixed so that a failure reruns with the same jitter draws.
const seed = 1

// testScale is the time scale the suite runs at: raceScale, unless
// WSCHAOS_TIMESCALE says otherwise.
func testScale(t *testing.T) float64 {
	if v := os.Getenv("WSCHAOS_TIMESCALE"); v != "" {
		k, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err, "WSCHAOS_TIMESCALE")
		require.Greater(t, k, 0.0, "WSCHAOS_TIMESCALE")
		return k
	}
	return raceScale
}

func TestCatalog(t *testing.T) {
	for _, sc := range CatalogAt(testScale(t)) {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			res := harness.Run(t.Context(), sc, harness.RunOptions{Seed: seed, ToxiproxyURL: os.Getenv("TOXIPROXY_URL")})
			require.Empty(t, res.Error, "scenario could not run")
			if !assert.Equal(t, result.Pass, res.Verdict, "failed checks:\n%s", failed(res)) {
				t.Logf("timeline without message traffic:\n%s", timeline(res))
			}
			assert.NotEmpty(t, res.Checks)
		})
	}
}

func TestCatalogNames(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range Catalog() {
		require.NoError(t, sc.Validate())
		assert.False(t, seen[sc.Name], "duplicate name %s", sc.Name)
		seen[sc.Name] = true
		assert.NotEmpty(t, sc.Description, sc.Name)
	}
}

func failed(res result.Scenario) string {
	var b strings.Builder
	for _, c := range res.Checks {
		if c.Verdict != result.Pass {
			b.WriteString("  " + c.Name + " " + string(c.Verdict) + ": got " + c.Got + ", want " + c.Want + " (" + c.Margin + ")\n")
		}
	}
	return b.String()
}

// timeline renders the events that matter for a failure: everything but the
// per-message traffic and heartbeats.
func timeline(res result.Scenario) string {
	noise := map[result.Kind]bool{result.KindReceived: true, result.KindSent: true, result.KindSend: true, result.KindRecv: true,
		result.KindAckRecv: true, result.KindPing: true, result.KindPong: true, result.KindPingRecv: true}
	var b strings.Builder
	for _, f := range res.Faults {
		fmt.Fprintf(&b, "  fault %s %.1f..%.1f ms\n", f.Kind, f.StartMS, f.EndMS)
	}
	for _, e := range res.Timeline {
		if noise[e.Kind] {
			continue
		}
		fmt.Fprintf(&b, "  %s\n", e.String())
	}
	return b.String()
}
