package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

func byName(t *testing.T, list []h.Scenario, name string) h.Scenario {
	t.Helper()
	for _, sc := range list {
		if sc.Name == name {
			return sc
		}
	}
	require.Failf(t, "no scenario", "%s", name)
	return h.Scenario{}
}

// targets evaluates a scenario's targets against its own profile, as a run
// does: the profile with defaults, the heartbeat held as none when the
// scenario declares none.
func targets(t *testing.T, sc h.Scenario) map[string]result.Target {
	t.Helper()
	eff := withDefaults(sc.Client)
	if sc.NoHeartbeat {
		eff.PingInterval, eff.PongTimeout = 0, 0
	}
	out := map[string]result.Target{}
	for _, c := range sc.Checks(eff) {
		out[c.Target.Name] = c.Target
	}
	return out
}

func production() h.Profile {
	return h.Profile{PingInterval: 25 * time.Second, PongTimeout: 5 * time.Second, HandshakeTimeout: 10 * time.Second,
		BackoffInitial: time.Second, BackoffMax: 30 * time.Second, BackoffMultiplier: 2, BackoffJitter: 0.3}
}

// A client with a 25 s heartbeat gets silent faults that outlast its
// heartbeat's bound with its allowance, and targets from its own profile.
func TestCatalogForSlowHeartbeat(t *testing.T) {
	p := production()
	list, err := CatalogFor(Options{Profile: &p})
	require.NoError(t, err)
	for _, name := range []string{"BlackHoleHalfOpen", "TLSBlackHole", "MutedPongs", "LatencyAboveDeadline", "SlowClose"} {
		sc := byName(t, list, name)
		assert.False(t, sc.NoHeartbeat)
		detect := targets(t, sc)["detect"]
		assert.InDelta(t, 30000, detect.Bound, 1e-9, "%s: PingInterval 25 s + PongTimeout 5 s", name)
		require.Len(t, sc.Faults, 1)
		assert.Greater(t, float64(sc.Faults[0].For)/1e6, detect.Limit, "%s: the fault outlasts the detection target", name)
	}
	lat := byName(t, list, "LatencyAboveDeadline").Faults[0]
	assert.Contains(t, lat.Text, "30.05s", "latency beyond the 30 s deadline")
	assert.Equal(t, 120*time.Second, byName(t, list, "LongOutage").Faults[0].For, "4 x the 30 s cap")
	assert.Equal(t, 90*time.Second, byName(t, list, "MassDrop").Faults[0].For, "3 x the 30 s cap")
	assert.Equal(t, 15*time.Second, byName(t, list, "UpgradeStall").Faults[0].For, "1.5 x the handshake timeout")
	assert.Equal(t, 6*time.Second, byName(t, list, "DialRefused").Faults[0].For, "6 x the first delay")
	sc := byName(t, list, "ProxyDownFIN")
	assert.Equal(t, 25*time.Millisecond, sc.Faults[0].For, "a moment is a moment, whatever the profile")
	assert.InDelta(t, 1000, targets(t, sc)["recover"].Bound-50, 1e-9, "first retry 1 s + one handshake")
	assert.Contains(t, sc.Description, "follows the declared profile")
}

// A client that declares no heartbeat is still run through the half-open
// scenarios, held to notice the silence while it lasts.
func TestCatalogForNoHeartbeat(t *testing.T) {
	p := production()
	p.PingInterval = 0
	list, err := CatalogFor(Options{Profile: &p})
	require.NoError(t, err)
	for _, sc := range list {
		assert.True(t, sc.NoHeartbeat, sc.Name)
	}
	for _, name := range []string{"BlackHoleHalfOpen", "MutedPongs", "BlackHoleUpstream", "LatencyAboveDeadline", "LossyHalfOpen"} {
		sc := byName(t, list, name)
		detect := targets(t, sc)["detect"]
		assert.Contains(t, detect.Why, "no heartbeat declared", name)
		assert.InDelta(t, float64(sc.Faults[0].For)/1e6, detect.Bound, 1e-9, "%s: held to notice while the fault lasts", name)
	}
	assert.Equal(t, 900*time.Millisecond, byName(t, list, "BlackHoleHalfOpen").Faults[0].For, "the catalogue's own length")
	assert.Equal(t, Catalog()[0].Name, list[0].Name)
}

// The reference profile declared explicitly builds the built-in catalogue,
// but for the wording of one reason: a declared profile states no ack
// timeout, so an upstream black hole is held to the heartbeat, which for
// the reference profile is the same bound.
func TestCatalogForReferenceProfile(t *testing.T) {
	for _, scale := range []float64{1, 3} {
		p := DeclaredAt(scale)
		list, err := CatalogFor(Options{Profile: &p, Scale: scale})
		require.NoError(t, err)
		want := golden(CatalogAt(scale))
		got := golden(list)
		require.Len(t, got, len(want))
		for i := range got {
			got[i].Description = want[i].Description
			if got[i].Name == "BlackHoleUpstream" {
				assert.Contains(t, got[i].Targets[0].Why, "PingInterval")
				assert.Equal(t, want[i].Targets[0].Limit, got[i].Targets[0].Limit)
				got[i].Targets[0].Why = want[i].Targets[0].Why
			}
		}
		assert.Equal(t, want, got)
	}
}

func TestCatalogForClients(t *testing.T) {
	list, err := CatalogFor(Options{Clients: 20})
	require.NoError(t, err)
	assert.Equal(t, 20, byName(t, list, "MassDrop").Clients)
	cl := byName(t, list, "ConnectionLimit")
	assert.Equal(t, 20, cl.Clients)
	assert.Contains(t, cl.Description, "accepts only 2 of 20 clients")
	assert.Equal(t, 0, byName(t, list, "ProxyDownFIN").Clients, "single-client scenarios stay single")
	list, err = CatalogFor(Options{Clients: 2})
	require.NoError(t, err)
	assert.Contains(t, byName(t, list, "ConnectionLimit").Description, "accepts only 1 of 2 clients")

	_, err = CatalogFor(Options{Clients: -1})
	require.Error(t, err)
}

func TestCatalogForInvalidProfile(t *testing.T) {
	p := production()
	p.BackoffJitter = 2
	p.HandshakeTimeout = 0
	_, err := CatalogFor(Options{Profile: &p})
	var pe *h.ProfileError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "handshake_timeout", pe.Field)
	assert.Contains(t, err.Error(), "backoff_jitter: is 2; want a fraction from 0 (none) to 1")
}

func TestProfileApply(t *testing.T) {
	p := production()
	o := p.Apply(client.Options{CloseGrace: time.Second})
	assert.Equal(t, 25*time.Second, o.PingInterval)
	assert.Equal(t, time.Second, o.CloseGrace, "what the profile does not declare is kept")
	p.BackoffJitter = 0
	o = p.Apply(o)
	assert.True(t, o.Backoff.NoJitter, "jitter 0 is none, not the client's default")
	assert.Equal(t, p, h.ProfileFrom(withDefaults(o)))
	p.PongTimeout = 0
	assert.False(t, p.Heartbeat())
	assert.Zero(t, p.Apply(o).PingInterval, "no heartbeat: none, not the old one")
}
