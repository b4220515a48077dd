package scenarios

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/catalog.golden.json from the catalogue")

// goldenScenario is what a catalogue entry schedules and promises: its
// profile, server, workload, faults and targets.
type goldenScenario struct {
	Name, Description string
	Clients           int
	TLS               bool
	NoHeartbeat       bool `json:",omitempty"`
	Profile           *result.Profile
	PushInterval      time.Duration
	ResumeWindow      time.Duration
	SendInterval      time.Duration
	Tail              time.Duration
	Faults            []goldenFault
	Targets           []result.Target
}

type goldenFault struct {
	Kind, Text string
	At, For    time.Duration
	Initial    bool
}

func golden(list []harness.Scenario) []goldenScenario {
	var out []goldenScenario
	for _, sc := range list {
		c, err := client.New("ws://127.0.0.1/ws", sc.Client)
		if err != nil {
			panic(err)
		}
		eff := c.Options()
		g := goldenScenario{Name: sc.Name, Description: sc.Description, Clients: sc.Clients, TLS: sc.TLS, NoHeartbeat: sc.NoHeartbeat,
			Profile: harness.ProfileOf(eff), PushInterval: sc.Server.PushInterval, ResumeWindow: sc.Server.ResumeWindow,
			SendInterval: sc.SendInterval, Tail: sc.Tail}
		for _, f := range sc.Faults {
			g.Faults = append(g.Faults, goldenFault{Kind: f.Kind, Text: f.Text, At: f.At, For: f.For, Initial: f.Initial})
		}
		for _, ch := range sc.Checks(eff) {
			g.Targets = append(g.Targets, ch.Target)
		}
		out = append(out, g)
	}
	return out
}

// The built-in catalogue for the reference client, at time scales 1 and
// 3, is exactly what testdata/catalog.golden.json records: building the
// catalogue from a declared profile must not move a single duration or
// target of the reference client's.
func TestCatalogGolden(t *testing.T) {
	got := map[string][]goldenScenario{"1": golden(CatalogAt(1)), "3": golden(CatalogAt(3))}
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	path := filepath.Join("testdata", "catalog.golden.json")
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "go test ./scenarios -run TestCatalogGolden -update writes it")
	assert.JSONEq(t, string(want), string(b), "the catalogue changed; if on purpose, rerun with -update")
}
