package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/leaktest"
	"github.com/wschaos/wschaos/result"
)

func TestMain(m *testing.M) {
	QuietToxiproxy()
	goleak.VerifyTestMain(m, leaktest.Toxiproxy()...)
}

func quickProfile() client.Options {
	return client.Options{
		Session:      true,
		PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond,
		HandshakeTimeout: 500 * time.Millisecond, CloseGrace: 50 * time.Millisecond,
		Backoff:          client.Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2, Jitter: 0.5},
		MinHealthyUptime: 500 * time.Millisecond,
	}
}

func TestRunRejectsInvalidScenario(t *testing.T) {
	res := Run(t.Context(), Scenario{Name: "bad name"}, RunOptions{})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "CamelCase")
	assert.Contains(t, res.Error, "no checks")
}

func TestRunReportsFaultThatCannotStart(t *testing.T) {
	sc := Scenario{
		Name: "Broken", Client: quickProfile(),
		Server: fakeserver.Options{PushInterval: 20 * time.Millisecond},
		Faults: []Fault{{Kind: "broken", At: 10 * time.Millisecond,
			Start: func(context.Context, *Env) error { return errors.New("no such toxic") }}},
		Checks: func(client.Options) []Check { return nil },
	}
	res := Run(t.Context(), sc, RunOptions{})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "start broken: no such toxic")
	var applied *result.Check
	for i := range res.Checks {
		if res.Checks[i].Name == "faults-applied" {
			applied = &res.Checks[i]
		}
	}
	require.NotNil(t, applied, "a fault that never took effect must fail the run as invalid")
	assert.Equal(t, result.Fail, applied.Verdict)
}

// A client that never gets warm (the server refuses every upgrade from the
// start) fails the run as invalid instead of passing a fault it never saw.
func TestRunRefusesColdRun(t *testing.T) {
	down := ProxyDown(10*time.Millisecond, 10*time.Millisecond)
	down.Arm = func(_ context.Context, env *Env) error {
		env.Server.SetReject(503, "")
		return nil
	}
	sc := Scenario{
		Name: "Cold", Client: quickProfile(),
		Server: fakeserver.Options{PushInterval: 20 * time.Millisecond},
		Faults: []Fault{down},
		Checks: func(o client.Options) []Check { return []Check{NoReconnect("")} },
	}
	res := Run(t.Context(), sc, RunOptions{})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "never warmed up")
	var valid *result.Check
	for i := range res.Checks {
		if res.Checks[i].Name == "valid-run" {
			valid = &res.Checks[i]
		}
	}
	require.NotNil(t, valid)
	assert.Equal(t, result.Fail, valid.Verdict)
}
