package harness

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/examples/echo-server/echo"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/result"
)

// echoServer is a real server of the kind a user brings: the echo example,
// on 127.0.0.1:0. Over TLS its certificate (httptest's) names example.com
// and 127.0.0.1.
func echoServer(t *testing.T, tls bool) (UpstreamServer, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(echo.Handler())
	// The probe tests refuse its certificate on purpose: no log of that.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	u := UpstreamServer{Addr: srv.Listener.Addr().String(), TLS: tls}
	if tls {
		u.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	}
	return u, srv
}

// plainChecks are a network scenario's checks, continuity included: it is
// n/a for a plain client, never a pass.
func plainChecks(o client.Options) []Check {
	return []Check{
		SawCloseCode(1006, "a FIN with no close frame"),
		Defining(DetectWithin(AtOnceBound(1, "a reader error"))),
		RecoverWithin(FirstRetry(o).Plus(OneHandshake(1))),
		NoLoss("continuity"),
		CrossCheck(NewBound(75*time.Millisecond, "client and tap on one clock")),
	}
}

func upstreamScenario(name string) Scenario {
	return Scenario{
		Name: name, Client: quickProfile(),
		Faults: []Fault{ProxyDown(300*time.Millisecond, 25*time.Millisecond)},
		Checks: plainChecks,
	}
}

// The chain in front of a real server: the reference client runs in plain
// mode against it (though the profile asks for the session), the network
// fault is judged as ever, continuity is n/a with the reason, and the
// timeline says where the chain stood.
func TestRunAgainstUpstream(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
		host string
	}{{"Plain", false, ""}, {"TLS", true, "example.com"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, _ := echoServer(t, tc.tls)
			u.Host = tc.host
			res := Run(t.Context(), upstreamScenario("Upstream"+tc.name), RunOptions{Seed: 1, Upstream: u})
			require.Empty(t, res.Error)
			assert.Equal(t, result.Pass, res.Verdict, "checks: %+v", res.Checks)
			c := checkNamed(t, res, "continuity")
			assert.Equal(t, result.NotApplicable, c.Verdict)
			assert.Contains(t, c.Margin, "plain client: the check counts messages by the session protocol's sequence numbers")
			assert.Equal(t, result.Pass, checkNamed(t, res, "detect").Verdict)
			assert.Nil(t, res.Measured.Up, "a plain client's messages are not counted")

			var ready, received, server int
			for _, e := range res.Timeline {
				switch {
				case e.Source == result.SourceServer:
					server++
				case e.Kind == result.KindReady:
					ready++
				case e.Kind == result.KindReceived:
					received++
					assert.Zero(t, e.Seq, "plain messages carry no sequence number")
				}
			}
			assert.Zero(t, server, "no fake server ran")
			assert.GreaterOrEqual(t, ready, 2, "ready before the fault and after it")
			assert.Positive(t, received, "the echo server answered the workload")
			assert.Contains(t, res.Timeline[0].Text, "the chain stands in front of the real server "+u.URL())
		})
	}
}

// A scenario that needs the fake server is not run against a real one, and
// its result says why; nothing is started for it.
func TestRunUpstreamNotRun(t *testing.T) {
	u := UpstreamServer{Addr: "127.0.0.1:1"}
	for _, tc := range []struct {
		sc   Scenario
		want string
	}{
		{Scenario{Name: "Closes", Client: quickProfile(), Faults: []Fault{ServerClose(0, 1001, "")}, Checks: plainChecks},
			"needs the fake server: its fault close-frame acts on the fake server"},
		{Scenario{Name: "Limited", Client: quickProfile(), Server: fakeserver.Options{MaxConnections: 2},
			Faults: []Fault{ProxyDown(0, time.Millisecond)}, Checks: plainChecks},
			"needs the fake server: it sets the fake server's MaxConnections (2)"},
		{Scenario{Name: "Acks", Client: quickProfile(), Faults: []Fault{BlackHole(0, time.Millisecond, Upstream)},
			Checks: func(o client.Options) []Check { return []Check{Defining(DetectAckWithin(HeartbeatBound(o)))} }},
			"needs the fake server: its defining check detect counts from the first message the fake server never received"},
		{Scenario{Name: "Secure", TLS: true, Client: quickProfile(), Faults: []Fault{ProxyDown(0, time.Millisecond)}, Checks: plainChecks},
			"a wss:// variant"},
	} {
		t.Run(tc.sc.Name, func(t *testing.T) {
			res := Run(t.Context(), tc.sc, RunOptions{Upstream: u})
			assert.Equal(t, result.NotRun, res.Verdict)
			assert.Contains(t, res.Error, tc.want)
			assert.Empty(t, res.Timeline)
			assert.Equal(t, "reference", res.Client)
		})
	}
	// Continuity as a check that is not the defining one does not keep a
	// scenario from running: it is n/a there.
	network := upstreamScenario("Net")
	assert.Empty(t, network.NeedsServerReason())
}

// A server that accepts the upgrade and then neither answers pings nor
// sends anything never warms the run up: an invalid run, never a pass.
func TestRunUpstreamSilentServerIsInvalid(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		select { // reads nothing, so no ping is ever answered
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	sc := upstreamScenario("Silent")
	sc.SendInterval = -1
	res := Run(t.Context(), sc, RunOptions{Seed: 1, Upstream: UpstreamServer{Addr: srv.Listener.Addr().String()}})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "never warmed up")
	assert.Equal(t, result.Fail, checkNamed(t, res, "valid-run").Verdict)
}

func TestUpstreamServerValidate(t *testing.T) {
	for _, tc := range []struct {
		u    UpstreamServer
		want string
	}{
		{UpstreamServer{Addr: "localhost"}, "want host:port"},
		{UpstreamServer{Addr: ":8080"}, "want host:port"},
		{UpstreamServer{Addr: "127.0.0.1:0"}, "want 1 to 65535"},
		{UpstreamServer{Addr: "127.0.0.1:http"}, "want 1 to 65535"},
		{UpstreamServer{Addr: "127.0.0.1:80", Path: "ws"}, "want an absolute path"},
		{UpstreamServer{Addr: "127.0.0.1:80", Path: "/a b"}, "space or control character"},
		{UpstreamServer{Addr: "127.0.0.1:80", Host: "a/b"}, "want a name"},
		{UpstreamServer{Addr: "127.0.0.1:80", TLS: true, CA: []byte("not pem")}, "no PEM certificate"},
	} {
		err := tc.u.Validate()
		require.Error(t, err, "%+v", tc.u)
		assert.Contains(t, err.Error(), tc.want)
		assert.True(t, strings.HasPrefix(err.Error(), "harness: "), err.Error())
	}
	ok := UpstreamServer{Addr: "[::1]:8443", TLS: true, Path: "/ws", Host: "example.com:8443"}
	require.NoError(t, ok.Validate())
	assert.Equal(t, "wss://[::1]:8443/ws", ok.URL())
	assert.Equal(t, "example.com", ok.TLSConfig().ServerName, "the certificate's name, without the port")
	assert.Equal(t, "example.com:8443", ok.hostHeader())
	assert.Equal(t, "127.0.0.1", UpstreamServer{Addr: "127.0.0.1:443", TLS: true}.TLSConfig().ServerName)
	assert.Nil(t, UpstreamServer{Addr: "127.0.0.1:80"}.TLSConfig())
	assert.Equal(t, "ws://127.0.0.1:80/", UpstreamServer{Addr: "127.0.0.1:80"}.URL())
}

// The probe finds what would otherwise fail every scenario: nothing
// listening, a refused upgrade, a certificate that does not name the host.
func TestProbeUpstream(t *testing.T) {
	ctx := t.Context()
	plain, _ := echoServer(t, false)
	require.NoError(t, ProbeUpstream(ctx, plain))

	secure, _ := echoServer(t, true)
	require.NoError(t, ProbeUpstream(ctx, secure), "httptest's certificate names 127.0.0.1")
	secure.Host = "example.com"
	require.NoError(t, ProbeUpstream(ctx, secure), "and example.com")
	secure.Host = "wrong.example"
	err := ProbeUpstream(ctx, secure)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	noCA := secure
	noCA.Host, noCA.CA = "", nil
	err = ProbeUpstream(ctx, noCA)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	refuses := httptest.NewServer(http.NotFoundHandler())
	defer refuses.Close()
	err = ProbeUpstream(ctx, UpstreamServer{Addr: refuses.Listener.Addr().String()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused the WebSocket upgrade with 404 Not Found")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	err = ProbeUpstream(ctx, UpstreamServer{Addr: closed})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
}

// Env in front of a real server: no fake server, the path the server
// serves, and the CA a client must trust.
func TestEnvUpstream(t *testing.T) {
	u, _ := echoServer(t, true)
	u.Path = "/socket"
	env, err := NewEnv(context.Background(), EnvOptions{Upstream: u})
	require.NoError(t, err)
	defer env.Close()
	assert.Nil(t, env.Server)
	assert.Equal(t, "wss://"+env.Tap.Addr()+"/socket", env.ClientURL())
	assert.Equal(t, u.CA, env.CertPEM())
	assert.Equal(t, u.Addr, env.Proxy.Upstream())
}
