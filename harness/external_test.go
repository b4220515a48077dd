package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/reports"
)

// TestHelperOutsideClient is not a test: it is the outside client the tests
// below start, this test binary run again with WSCHAOS_URL set. Modes (after
// "--"): "reference" runs the reference client until SIGTERM; "spawn" also
// starts a child that ignores SIGTERM and prints "child PID".
func TestHelperOutsideClient(t *testing.T) {
	url := os.Getenv(EnvURL)
	if url == "" || flag.NArg() == 0 {
		t.Skip("helper process for the outside-client tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if flag.Arg(0) == "spawn" {
		child := exec.Command("sh", "-c", "trap '' TERM; exec sleep 300")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "spawn:", err)
			os.Exit(1)
		}
		fmt.Printf("child %d\n", child.Process.Pid)
	}
	o := quickProfile()
	o.ClientID = os.Getenv(EnvClientID)
	c, err := client.New(url, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("running")
	err = c.Run(ctx)
	fmt.Println("stopped:", err)
	os.Exit(0) // skip the leak check and the test summary of the parent's TestMain
}

// helperCommand runs this test binary as an outside client in mode.
func helperCommand(mode string) []string {
	return []string{os.Args[0], "-test.run=^TestHelperOutsideClient$", "-test.count=1", "--", mode}
}

func proxyDownScenario() Scenario {
	return Scenario{
		Name: "OutsideProxyDown", Client: quickProfile(),
		Server: fakeserver.Options{PushInterval: 20 * time.Millisecond},
		Faults: []Fault{ProxyDown(300*time.Millisecond, 25*time.Millisecond)},
		Checks: func(o client.Options) []Check {
			// From the wire, detection is the socket's close, which the
			// client makes within CloseGrace of declaring the loss.
			_, first := o.Backoff.Envelope(1)
			detect := AtOnce + o.CloseGrace
			return []Check{
				DetectWithin(detect+Slack(detect), "a FIN ends the connection at once; the socket closes within CloseGrace"),
				RecoverWithin(first+Slack(first)+AtOnce, "first retry"),
				NoLoss("continuity"),
				SawCloseCode(1006, "no close frame"),
				DelaysWithinPolicy("policy"),
			}
		},
	}
}

func checkNamed(t *testing.T, res reports.Scenario, name string) reports.Check {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no such check", "got checks %+v, want one named %q", res.Checks, name)
	return reports.Check{}
}

// The reference client run as an outside program is measured from the wire:
// detection and recovery come out, and the checks that need its cooperation
// say not applicable instead of passing.
func TestOutsideClientMeasuredFromTheWire(t *testing.T) {
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: helperCommand("reference"), ClientName: "outside-reference"})
	require.Empty(t, res.Error)
	assert.Equal(t, reports.Pass, res.Verdict, "checks: %+v", res.Checks)
	require.NotNil(t, res.Measured.DetectMS, "detection measured from the tap")
	require.NotNil(t, res.Measured.RecoverMS, "recovery measured from the server's welcome")
	assert.GreaterOrEqual(t, res.Measured.Reconnects, 1)

	for _, name := range []string{"continuity", "close-code"} {
		c := checkNamed(t, res, name)
		assert.True(t, c.NotApplicable, "%s: got %+v, want not applicable", name, c)
		assert.True(t, c.OK, "a not-applicable check fails nothing")
		assert.True(t, strings.HasPrefix(c.Got, "n/a: "), "got %q", c.Got)
	}
	for _, name := range []string{"detect", "recover", "delays-in-policy"} {
		c := checkNamed(t, res, name)
		assert.False(t, c.NotApplicable, "%s is judged from the wire", name)
	}

	var derived, lines int
	for _, e := range res.Timeline {
		switch {
		case e.Source == SourceClient && strings.Contains(e.Detail, ObservedByTap):
			derived++
		case e.Source == SourceClient && e.Kind == KindStdout:
			lines++
		case e.Source == SourceClient && (e.Kind == KindSent || e.Kind == KindReceived):
			t.Errorf("got a %s event for an outside client: the harness cannot see its messages", e.Kind)
		}
	}
	assert.Positive(t, derived, "client events derived from the wire")
	assert.Positive(t, lines, "the client's stdout is on the timeline")
}

// alive reports whether pid is running. A zombie has exited: where the init
// process does not reap orphans (some containers) it stays in the table.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	running, _ := procState(strconv.Itoa(pid))
	return running
}

func childPID(t *testing.T, res reports.Scenario) int {
	t.Helper()
	for _, e := range res.Timeline {
		if e.Kind == KindStdout {
			if s, ok := strings.CutPrefix(e.Detail, "child "); ok {
				pid, err := strconv.Atoi(s)
				require.NoError(t, err)
				return pid
			}
		}
	}
	require.Fail(t, "the helper never printed its child's pid", "timeline: %+v", res.Timeline)
	return 0
}

// Whatever the outside client started is gone when Run returns, even a child
// that ignores SIGTERM (it gets SIGKILL with the group).
func TestOutsideClientLeavesNoProcessBehind(t *testing.T) {
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: helperCommand("spawn")})
	require.Empty(t, res.Error)
	pid := childPID(t, res)
	assert.False(t, alive(pid), "child %d still running after Run", pid)
}

// Cancelling the run stops the outside client too.
func TestOutsideClientStoppedOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sc := proxyDownScenario()
	sc.Faults[0].At = time.Hour // the run would go on for an hour
	time.AfterFunc(time.Second, cancel)
	started := time.Now()
	res := Run(ctx, sc, RunOptions{Command: helperCommand("spawn")})
	assert.Less(t, time.Since(started), 10*time.Second)
	assert.Contains(t, res.Error, "context canceled")
	pid := childPID(t, res)
	assert.False(t, alive(pid), "child %d still running after Run", pid)
}

func TestOutsideClientRefusesManyClients(t *testing.T) {
	sc := proxyDownScenario()
	sc.Clients = 3
	res := Run(t.Context(), sc, RunOptions{Command: []string{"true"}})
	assert.Equal(t, reports.Fail, res.Verdict)
	assert.Contains(t, res.Error, "outside clients run single-client scenarios only")
}

func TestOutsideClientThatCannotStart(t *testing.T) {
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: []string{"/nonexistent/wschaos-client"}})
	assert.Equal(t, reports.Fail, res.Verdict)
	assert.Contains(t, res.Error, "start outside client")
}

// An outside client that never connects fails the run as invalid.
func TestOutsideClientThatNeverConnects(t *testing.T) {
	sc := proxyDownScenario()
	sc.Client.Backoff.Max = 50 * time.Millisecond // a short warm-up wait
	sc.Client.HandshakeTimeout = 100 * time.Millisecond
	res := Run(t.Context(), sc, RunOptions{Command: []string{"sleep", "30"}})
	assert.Equal(t, reports.Fail, res.Verdict)
	assert.Contains(t, res.Error, "never warmed up")
	assert.False(t, checkNamed(t, res, "valid-run").OK)
}

// An outside client that exits at once fails the run as invalid without
// waiting out the warm-up.
func TestOutsideClientThatExits(t *testing.T) {
	started := time.Now()
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: []string{"sh", "-c", "echo 'cannot work' >&2; exit 3"}})
	assert.Less(t, time.Since(started), 5*time.Second)
	assert.Equal(t, reports.Fail, res.Verdict)
	assert.Contains(t, res.Error, "exited on its own (exit status 3)")
	assert.False(t, checkNamed(t, res, "valid-run").OK)
	var stderr []string
	for _, e := range res.Timeline {
		if e.Kind == KindStderr {
			stderr = append(stderr, e.Detail)
		}
	}
	assert.Equal(t, []string{"cannot work"}, stderr)
}

func tapEv(t float64, kind string, conn uint64) reports.Event {
	return reports.Event{TMS: t, Source: SourceTap, Kind: kind, Conn: conn}
}

func srvEv(t float64, kind string, conn uint64, code int) reports.Event {
	return reports.Event{TMS: t, Source: SourceServer, Kind: kind, Conn: conn, Client: "c1", Code: code}
}

// The observer turns a black hole as the wire shows it into the client's
// lifecycle: connect, welcome, then a new connect while the old connection is
// still open (the client gave up on it), a refused dial, and recovery.
func TestWireObserver(t *testing.T) {
	o := newWireObserver("c1")
	o.setMinHealthy(500 * time.Millisecond)
	var got []reports.Event
	for _, e := range []reports.Event{
		tapEv(10, chaosnet.TapConnect, 1),
		srvEv(12, fakeserver.KindAccept, 1, 0),
		srvEv(13, fakeserver.KindWelcome, 1, 0),
		srvEv(14, fakeserver.KindEcho, 1, 0), // not a second ready
		// fault from 1000: the client notices at 1300 and dials again
		tapEv(1300, chaosnet.TapConnect, 2),
		tapEv(1301, chaosnet.TapUpstreamRefused, 2),
		tapEv(1302, chaosnet.TapClosed, 2),
		tapEv(1400, chaosnet.TapClientClose, 1), // the old one, closed late
		tapEv(1450, chaosnet.TapConnect, 3),
		srvEv(1460, fakeserver.KindAccept, 2, 0),
		srvEv(1470, fakeserver.KindCloseSent, 2, 1012),
		tapEv(1480, chaosnet.TapClientClose, 3),
		tapEv(1600, chaosnet.TapConnect, 4),
		srvEv(1610, fakeserver.KindAccept, 3, 0),
		srvEv(1620, fakeserver.KindRaw, 3, 0),
	} {
		got = append(got, o.feed(e)...)
	}
	type row struct {
		t       float64
		kind    string
		conn    uint64
		code    int
		attempt int
		delay   float64
	}
	var rows []row
	for _, e := range got {
		assert.Equal(t, SourceClient, e.Source)
		assert.Equal(t, "c1", e.Client)
		assert.Contains(t, e.Detail, ObservedByTap)
		rows = append(rows, row{e.TMS, e.Kind, e.Conn, e.Code, e.Attempt, e.DelayMS})
	}
	assert.Equal(t, []row{
		{10, "dialing", 1, 0, 0, 0},
		{13, "ready", 1, 0, 0, 0},
		{1300, "disconnected", 1, 0, 1, 0}, // ready 1287 ms >= 500: attempts start again
		{1300, "dialing", 2, 0, 1, 0},
		{1302, "disconnected", 2, 0, 2, 0},
		{1302, "backoff", 2, 0, 2, 148},
		{1450, "dialing", 3, 0, 2, 0},
		{1480, "disconnected", 3, 1012, 3, 0},
		{1480, "backoff", 3, 0, 3, 120},
		{1600, "dialing", 4, 0, 3, 0},
		{1620, "ready", 4, 0, 3, 0},
	}, rows)

	tl := &Timeline{Clients: []string{"c1"}, Faults: []reports.Fault{{Kind: "black-hole", StartMS: 1000, EndMS: 1500}}, Events: got}
	m := tl.Measure("c1")
	require.NotNil(t, m.Detect(tl))
	assert.InDelta(t, 300, *m.Detect(tl), 1e-9)
	require.NotNil(t, m.Recover(tl))
	assert.InDelta(t, 120, *m.Recover(tl), 1e-9)
	assert.Equal(t, 3, m.Attempts)
}

// A stalled upgrade that the client gives up on is a handshake timeout, and
// what happens once the harness is stopping the client is not its doing.
func TestWireObserverStallAndStop(t *testing.T) {
	o := newWireObserver("c1")
	var got []reports.Event
	for _, e := range []reports.Event{
		tapEv(10, chaosnet.TapConnect, 1),
		srvEv(11, fakeserver.KindStall, 0, 0),
		tapEv(510, chaosnet.TapClientClose, 1),
		tapEv(600, chaosnet.TapConnect, 2),
		srvEv(610, fakeserver.KindAccept, 1, 0),
		srvEv(611, fakeserver.KindWelcome, 1, 0),
	} {
		got = append(got, o.feed(e)...)
	}
	o.setStopping()
	got = append(got, o.feed(tapEv(900, chaosnet.TapClientClose, 2))...)
	tl := &Timeline{Clients: []string{"c1"}, Events: got}
	var kinds []string
	for _, e := range tl.ClientEvents("c1") {
		kinds = append(kinds, e.Kind)
		if e.Kind == "disconnected" {
			assert.Contains(t, e.Detail, "cause=handshake-timeout")
		}
	}
	assert.Equal(t, []string{"dialing", "disconnected", "backoff", "dialing", "ready"}, kinds,
		"the close during the harness's stop is filtered as cause=stopped")
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{kind: KindStdout, onLine: func(kind, line string) { got = append(got, kind+":"+line) }}
	fmt.Fprint(w, "one\r\ntw")
	fmt.Fprint(w, "o\n"+strings.Repeat("x", maxLineLen+10)+"\nlast")
	w.flush()
	require.Len(t, got, 4)
	assert.Equal(t, []string{"stdout:one", "stdout:two"}, got[:2])
	assert.Equal(t, "stdout:"+strings.Repeat("x", maxLineLen)+"…", got[2])
	assert.Equal(t, "stdout:last", got[3])
}

// Checks that need the client's cooperation say not applicable for an
// outside client; the others judge what the wire shows, with the wire's own
// allowances.
func TestChecksForOutsideClients(t *testing.T) {
	wire := func(t float64, kind client.EventKind, code int, delay float64, attempt int) reports.Event {
		return reports.Event{TMS: t, Source: SourceClient, Client: "c1", Kind: string(kind), Code: code,
			DelayMS: delay, Attempt: attempt, Detail: ObservedByTap + ": test"}
	}
	tl := &Timeline{
		Clients: []string{"c1"},
		Options: client.Options{Backoff: client.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}},
		Faults:  []reports.Fault{{Kind: "reject", StartMS: 1000, EndMS: 2000}},
		Events: []reports.Event{
			{Source: SourceHarness, Kind: KindOutside, Client: "c1"},
			wire(10, client.EventDialing, 0, 0, 0), wire(20, client.EventReady, 0, 0, 0),
			wire(1010, client.EventDisconnected, 1006, 0, 1),
			// 150 ms on the wire for a delay of at most 100: within the
			// wire's allowance of AtOnce.
			wire(1010, client.EventBackoff, 0, 150, 1),
			wire(1160, client.EventDialing, 0, 0, 1),
			wire(1170, client.EventDisconnected, 401, 0, 2),
		},
	}
	for _, c := range []Check{NoLoss(""), GapReported(""), SawCloseCode(1006, ""), BackoffNotReset("")} {
		got := c.Eval(tl)
		assert.True(t, got.OK && got.NotApplicable, "%s: got %+v, want not applicable", c.Target.Name, got)
		assert.True(t, strings.HasPrefix(got.Got, "n/a: c1: outside client"), "got %q", got.Got)
	}
	assert.True(t, DelaysWithinPolicy("").Eval(tl).OK)
	stops := StopsOnFatal(401, "").Eval(tl)
	assert.True(t, stops.OK, "no dial after the server's 401: %+v", stops)
	assert.Equal(t, "0 dials after 401 (seen on the wire)", stops.Got)

	tl.Events = append(tl.Events, wire(1500, client.EventDialing, 0, 0, 2))
	assert.False(t, StopsOnFatal(401, "").Eval(tl).OK, "a dial after the 401")
	tl.Events = append(tl.Events, wire(1600, client.EventBackoff, 0, 300, 1))
	assert.False(t, DelaysWithinPolicy("").Eval(tl).OK, "300 ms is beyond any allowance for attempt 1")
}
