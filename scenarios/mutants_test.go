package scenarios

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// TestMutantsCaught proves the suite can fail: every broken client must fail
// the named check of each scenario that is meant to catch it.
func TestMutantsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("mutants take a while; -short skips them")
	}
	byName := map[string]harness.Scenario{}
	for _, sc := range CatalogAt(testScale(t)) {
		byName[sc.Name] = sc
	}
	for _, m := range Mutants() {
		for scenario, check := range m.CaughtBy {
			t.Run(m.Name+"/"+scenario, func(t *testing.T) {
				t.Parallel()
				sc, ok := byName[scenario]
				require.True(t, ok, "mutant %s names unknown scenario %s", m.Name, scenario)
				res := harness.Run(t.Context(), sc, harness.RunOptions{
					Seed: seed, ClientName: m.Name, Mutate: m.Mutate, ToxiproxyURL: os.Getenv("TOXIPROXY_URL"),
				})
				require.Empty(t, res.Error, "scenario could not run")
				assert.Equal(t, result.Fail, res.Verdict, "mutant %s passed %s", m.Name, scenario)
				var found *result.Check
				for i, c := range res.Checks {
					if c.Name == check {
						found = &res.Checks[i]
					}
				}
				require.NotNil(t, found, "scenario %s has no check %q", scenario, check)
				assert.NotEmpty(t, found.Margin, "a failed check says by how much")
				if !assert.Equal(t, result.Fail, found.Verdict, "got %s %s (%s), want it to catch mutant %s", check, found.Verdict, found.Got, m.Name) {
					t.Logf("timeline:\n%s", timeline(res))
				}
			})
		}
	}
}
