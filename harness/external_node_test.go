package harness

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/result"
)

// nodeCommand is the command line of examples/node-client, or a skip when
// Node.js is not installed.
func nodeCommand(t *testing.T) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the Node.js example client cannot run (install Node.js 20+ to run this test)")
	}
	script, err := filepath.Abs(filepath.Join("..", "examples", "node-client", "client.js"))
	require.NoError(t, err)
	cmd := []string{node}
	// Node.js 20 has WebSocket behind a flag; 22 and later by default.
	if exec.Command(node, "-e", "process.exit(typeof WebSocket === 'undefined' ? 1 : 0)").Run() != nil {
		cmd = append(cmd, "--experimental-websocket")
	}
	if exec.Command(node, append(cmd[1:], "-e", "process.exit(typeof WebSocket === 'undefined' ? 1 : 0)")...).Run() != nil {
		t.Skip("this Node.js has no WebSocket, even with --experimental-websocket: Node.js 20+ is needed")
	}
	return append(cmd, script)
}

// catalogueLike is the catalogue's profile and server at time scale 1.
func catalogueLike(name string, tls bool, f Fault, checks func(o client.Options) []Check) Scenario {
	return Scenario{
		Name: name, TLS: tls,
		Client: client.Options{
			PingInterval: 200 * time.Millisecond, PongTimeout: 150 * time.Millisecond,
			HandshakeTimeout: time.Second, CloseGrace: 100 * time.Millisecond,
			Backoff:          client.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5},
			MinHealthyUptime: time.Second, HintMax: 2 * time.Second, AckDelay: 20 * time.Millisecond,
		},
		Server: fakeserver.Options{PushInterval: 50 * time.Millisecond},
		Faults: []Fault{f},
		Checks: checks,
	}
}

// The example Node.js client, a typical one (fixed 1 s reconnect delay, an
// application heartbeat that gives up after 3 s), run against catalogue-like
// scenarios: the runs complete, detection and recovery are measured from
// the outside, continuity is not applicable, and no process is left.
func TestExternalNodeClient(t *testing.T) {
	cmd := nodeCommand(t)
	for _, sc := range []Scenario{
		catalogueLike("ProxyDownFIN", false, ProxyDown(300*time.Millisecond, 25*time.Millisecond), func(o client.Options) []Check {
			return []Check{
				SawCloseCode(1006, "no close frame"),
				DetectWithin(AtOnceBound(1, "a reader error ends the connection")),
				RecoverWithin(FirstRetry(o).Plus(OneHandshake(1))),
				NoLoss("continuity"),
			}
		}),
		// Over TLS, so WSCHAOS_CA_FILE is used (the client re-executes
		// itself with NODE_EXTRA_CA_CERTS: a process tree to clean up).
		catalogueLike("BlackHoleHalfOpen", true, BlackHole(300*time.Millisecond, 900*time.Millisecond), func(o client.Options) []Check {
			return []Check{
				DetectSilenceWithin(HeartbeatBound(o)),
				RecoverWithin(Recovery(o, 900*time.Millisecond, 1)),
				NoLoss("continuity"),
				DelaysWithinPolicy("policy"),
			}
		}),
	} {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			res := Run(t.Context(), sc, RunOptions{Command: cmd, ClientName: "node-example", Seed: 1})
			require.Empty(t, res.Error, "the run must complete; timeline: %s", timelineText(res))
			for _, c := range res.Checks {
				t.Logf("%-18s %-5s got %s, want %s", c.Name, c.Verdict, c.Got, c.Want)
			}
			require.NotNil(t, res.Measured.DetectMS, "detection measured from the tap")
			require.NotNil(t, res.Measured.RecoverMS, "recovery measured from the server; timeline: %s", timelineText(res))
			t.Logf("detect %.0f ms, recover %.0f ms, verdict %s", *res.Measured.DetectMS, *res.Measured.RecoverMS, res.Verdict)
			c := checkNamed(t, res, "continuity")
			assert.Equal(t, result.NotApplicable, c.Verdict, "continuity: got %+v, want not applicable", c)
			for _, c := range res.Checks {
				assert.NotEqual(t, "valid-run", c.Name, "the node client must warm up: %+v", c)
			}

			pid := outsidePID(t, res)
			assert.False(t, alive(pid), "node (pid %d) still running after Run", pid)
			assert.False(t, groupAlive(pid), "a process of node's group %d still running after Run", pid)
		})
	}
}

func outsidePID(t *testing.T, res result.Scenario) int {
	t.Helper()
	for _, e := range res.Timeline {
		if e.Kind == result.KindOutside {
			require.Positive(t, e.PID)
			return e.PID
		}
	}
	require.Fail(t, "no outside-client event")
	return 0
}

func timelineText(res result.Scenario) string {
	var b strings.Builder
	for _, e := range res.Timeline {
		if e.Kind == result.KindSend || e.Kind == result.KindPingRecv || e.Kind == result.KindEcho {
			continue
		}
		b.WriteString("\n  " + e.String())
	}
	return b.String()
}
