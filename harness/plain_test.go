package harness

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/result"
)

// plainCommand runs this test binary as a plain WebSocket client: "none"
// without a heartbeat, "ping" with one (see TestHelperOutsideClient).
func plainCommand(heartbeat string) []string {
	if heartbeat == "ping" {
		return helperCommand("plain-ping")
	}
	return helperCommand("plain")
}

// plainProfile is what the helper declares: a fixed 50 ms delay, and with
// "ping" a 100 ms + 100 ms heartbeat.
func plainProfile(heartbeat bool) Profile {
	p := Profile{HandshakeTimeout: time.Second, BackoffInitial: 50 * time.Millisecond, BackoffMax: 50 * time.Millisecond, BackoffMultiplier: 1}
	if heartbeat {
		p.PingInterval, p.PongTimeout = 100*time.Millisecond, 100*time.Millisecond
	}
	return p
}

func plainScenario(name string, heartbeat bool, f Fault, checks func(o client.Options) []Check) Scenario {
	o := plainProfile(heartbeat).Apply(client.Options{CloseGrace: 50 * time.Millisecond, MinHealthyUptime: 500 * time.Millisecond})
	return Scenario{Name: name, Client: o, NoHeartbeat: !heartbeat, Faults: []Fault{f}, Checks: checks,
		Server: fakeserver.Options{PushInterval: 20 * time.Millisecond}}
}

// A client that only completes the upgrade and echoes is measurable: it is
// ready on the upgrade, the server pushes raw text to it, detection,
// recovery, attempts and its delays come off the wire, and continuity,
// which it cannot show, is n/a.
func TestPlainOutsideClient(t *testing.T) {
	sc := plainScenario("PlainProxyDown", false, ProxyDown(300*time.Millisecond, 25*time.Millisecond), func(o client.Options) []Check {
		return []Check{
			DetectWithin(AtOnceBound(1, "a FIN ends the connection")),
			RecoverWithin(FirstRetry(o).Plus(OneHandshake(1))),
			DelaysWithinPolicy("a fixed 50 ms"),
			NoLoss("continuity"),
		}
	})
	res := Run(t.Context(), sc, RunOptions{Command: plainCommand("none"), ClientName: "plain"})
	require.Empty(t, res.Error, "timeline: %s", timelineText(res))
	assert.Equal(t, result.Pass, res.Verdict, "checks: %+v", res.Checks)
	assert.Equal(t, result.NotApplicable, checkNamed(t, res, "continuity").Verdict)
	for _, name := range []string{"detect", "recover", "delays-in-policy"} {
		assert.Equal(t, result.ViaWire, checkNamed(t, res, name).Via, name)
	}
	assert.Equal(t, result.ViaWire, res.Measured.Via)
	require.NotNil(t, res.Measured.RecoverMS)
	require.NotNil(t, res.Profile)
	assert.Zero(t, res.Profile.PingIntervalMS, "held to no heartbeat, as declared")

	var pushes, echoes, plain, readies int
	for _, e := range res.Timeline {
		switch {
		case e.Kind == result.KindPush:
			pushes++
			assert.Equal(t, "c1", e.Client)
		case e.Kind == result.KindRaw && e.Seq > 0:
			echoes++
		case e.Kind == result.KindPlain:
			plain++
		case e.Kind == result.KindReady:
			readies++
			assert.Equal(t, result.ViaWire, e.Via)
		case e.Source == result.SourceTap && e.Kind == result.KindTapConnect:
			assert.Equal(t, "c1", e.Client, "the client's own tap")
		}
	}
	assert.Positive(t, pushes, "raw pushes reached the plain client")
	assert.Positive(t, echoes, "its echoes of them came back")
	assert.Equal(t, 1, plain, "the first connection showed it plain; later ones are ready on the upgrade")
	assert.GreaterOrEqual(t, readies, 2, "ready before the fault and again after it")
}

// The half-open checks hold a plain client to the heartbeat it declares:
// with one it passes; declaring none it fails as never detected.
func TestPlainOutsideClientHalfOpen(t *testing.T) {
	const hole = 900 * time.Millisecond
	for _, heartbeat := range []bool{true, false} {
		t.Run(map[bool]string{true: "ping", false: "none"}[heartbeat], func(t *testing.T) {
			t.Parallel()
			sc := plainScenario("PlainBlackHole", heartbeat, BlackHole(300*time.Millisecond, hole), func(o client.Options) []Check {
				b := HeartbeatBound(o)
				if !heartbeat {
					b = NewBound(hole, "no heartbeat declared")
				}
				return []Check{Defining(DetectSilenceWithin(b)), RecoverAfterOutage(o, hole, 1)}
			})
			mode := map[bool]string{true: "ping", false: "none"}[heartbeat]
			res := Run(t.Context(), sc, RunOptions{Command: plainCommand(mode)})
			require.Empty(t, res.Error, "timeline: %s", timelineText(res))
			detect := checkNamed(t, res, "detect")
			if heartbeat {
				assert.Equal(t, result.Pass, detect.Verdict, "%+v; timeline: %s", detect, timelineText(res))
				assert.InDelta(t, 200, res.Profile.PingIntervalMS+res.Profile.PongTimeoutMS, 1e-9)
				return
			}
			assert.Equal(t, result.Fail, detect.Verdict, "%+v", detect)
			assert.Regexp(t, `^never detected within 9\d\d ms$`, detect.Got)
			assert.Equal(t, result.ViaWire, detect.Via)
		})
	}
}

// Several outside clients, each its own process with its own id, tap and
// URL path: every one is measured on its own, the herd check judges them,
// and every process is gone when the scenario ends.
func TestManyOutsideClients(t *testing.T) {
	const n = 20
	sc := plainScenario("PlainMassDrop", false, ProxyDown(300*time.Millisecond, 500*time.Millisecond), func(o client.Options) []Check {
		return []Check{
			RecoverAfterOutage(o, 500*time.Millisecond, 1),
			Defining(HerdSpread(100*time.Millisecond, 0, "a fixed delay: no spread promised")),
		}
	})
	sc.Clients = n
	res := Run(t.Context(), sc, RunOptions{Command: plainCommand("none"), ClientName: "plain"})
	require.Empty(t, res.Error, "timeline: %s", timelineText(res))
	require.Len(t, res.Measured.PerClient, n)
	for i, f := range res.Measured.PerClient {
		assert.Equal(t, "c"+strconv.Itoa(i+1), f.Client)
		assert.NotNil(t, f.DetectMS, "%s: its loss, from its own tap", f.Client)
		assert.NotNil(t, f.RecoverMS, "%s: back, on the server's accept of its own path", f.Client)
	}
	require.NotNil(t, res.Measured.Spread)
	assert.Equal(t, n, res.Measured.Spread.Recovered)
	herd := checkNamed(t, res, "herd-spread")
	assert.Equal(t, result.Fail, herd.Verdict, "20 clients with one fixed delay come back together: %+v", herd)
	assert.Equal(t, float64(n/2), herd.Limit, "never more than half the clients in one window")

	pids := map[int]bool{}
	for _, e := range res.Timeline {
		if e.Kind == result.KindOutside {
			pids[e.PID] = true
		}
	}
	require.Len(t, pids, n, "one process per client")
	for pid := range pids {
		assert.False(t, alive(pid), "client process %d still running after Run", pid)
		assert.False(t, groupAlive(pid), "a process of group %d still running after Run", pid)
	}
}

// A declared profile without a heartbeat cannot be run by the reference
// client.
func TestNoHeartbeatNeedsOutsideClient(t *testing.T) {
	sc := plainScenario("NoHeartbeatReference", false, ProxyDown(300*time.Millisecond, 25*time.Millisecond), func(client.Options) []Check { return nil })
	res := Run(t.Context(), sc, RunOptions{})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "only an outside client")
}
