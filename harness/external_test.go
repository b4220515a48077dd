package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/plainclient"
	"github.com/wschaos/wschaos/result"
)

// TestHelperOutsideClient is not a test: it is the outside client the tests
// start, this test binary run again with WSCHAOS_URL set. Modes (after
// "--"): "reference" runs the reference client until SIGTERM; "spawn" also
// starts a child that ignores SIGTERM and prints "child PID"; "plain" is a
// plain WebSocket client, the kind most applications have (package
// plainclient): it never speaks the wschaos protocol, echoes what it
// receives and reconnects a fixed 50 ms after a loss; "plain-ping" also
// pings every 50 ms and declares the connection dead when a pong is 100 ms
// late, well inside the 100 ms + 100 ms it declares (plainProfile), so
// that scheduling under the race detector cannot make it miss its own
// contract.
func TestHelperOutsideClient(t *testing.T) {
	url := os.Getenv(EnvURL)
	if url == "" || flag.NArg() == 0 {
		t.Skip("helper process for the outside-client tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if heartbeat, plain := strings.CutPrefix(flag.Arg(0), "plain"); plain {
		o := plainclient.Options{URL: url, CAFile: os.Getenv(EnvCAFile), Out: os.Stdout}
		if heartbeat == "-ping" {
			o.PingInterval, o.PongTimeout = 50*time.Millisecond, 100*time.Millisecond
		}
		if err := plainclient.Run(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0) // skip the leak check and the test summary of the parent's TestMain
	}
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
			return []Check{
				DetectWithin(NewBound(AtOnce+o.CloseGrace, "a FIN ends the connection at once; the socket closes within CloseGrace")),
				RecoverWithin(FirstRetry(o).Plus(OneHandshake(1))),
				NoLoss("continuity"),
				SawCloseCode(1006, "no close frame"),
				DelaysWithinPolicy("policy"),
			}
		},
	}
}

func checkNamed(t *testing.T, res result.Scenario, name string) result.Check {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no such check", "got checks %+v, want one named %q", res.Checks, name)
	return result.Check{}
}

// The reference client run as an outside program is measured from the wire:
// detection and recovery come out, and the checks that need its cooperation
// say not applicable instead of passing.
func TestOutsideClientMeasuredFromTheWire(t *testing.T) {
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: helperCommand("reference"), ClientName: "outside-reference"})
	require.Empty(t, res.Error)
	assert.Equal(t, result.Pass, res.Verdict, "checks: %+v", res.Checks)
	require.NotNil(t, res.Measured.DetectMS, "detection measured from the tap")
	require.NotNil(t, res.Measured.RecoverMS, "recovery measured from the server's welcome")
	assert.GreaterOrEqual(t, res.Measured.Reconnects, 1)

	for _, name := range []string{"continuity", "close-code"} {
		c := checkNamed(t, res, name)
		assert.Equal(t, result.NotApplicable, c.Verdict, "%s: got %+v, want not applicable", name, c)
		assert.NotEmpty(t, c.Margin, "n/a says why")
	}
	for _, name := range []string{"detect", "recover", "delays-in-policy"} {
		c := checkNamed(t, res, name)
		assert.NotEqual(t, result.NotApplicable, c.Verdict, "%s is judged from the wire", name)
		assert.Equal(t, result.ViaWire, c.Via, "%s says it came from the wire", name)
	}

	var derived, lines int
	for _, e := range res.Timeline {
		switch {
		case e.Source == result.SourceClient && e.Via == result.ViaWire:
			derived++
		case e.Kind == result.KindStdout:
			lines++
		case e.Kind == result.KindSent || e.Kind == result.KindReceived:
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

func childPID(t *testing.T, res result.Scenario) int {
	t.Helper()
	for _, e := range res.Timeline {
		if e.Kind == result.KindStdout {
			if s, ok := strings.CutPrefix(e.Text, "child "); ok {
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
	assert.Equal(t, result.Interrupted, res.Verdict)
	assert.Contains(t, res.Error, "interrupted")
	pid := childPID(t, res)
	assert.False(t, alive(pid), "child %d still running after Run", pid)
}

func TestOutsideClientThatCannotStart(t *testing.T) {
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: []string{"/nonexistent/wschaos-client"}})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "start outside client")
}

// An outside client that never connects fails the run as invalid.
func TestOutsideClientThatNeverConnects(t *testing.T) {
	sc := proxyDownScenario()
	sc.Client.Backoff.Max = 50 * time.Millisecond // a short warm-up wait
	sc.Client.HandshakeTimeout = 100 * time.Millisecond
	res := Run(t.Context(), sc, RunOptions{Command: []string{"sleep", "30"}})
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "never warmed up")
	assert.Equal(t, result.Fail, checkNamed(t, res, "valid-run").Verdict)
}

// An outside client that exits at once fails the run as invalid without
// waiting out the warm-up.
func TestOutsideClientThatExits(t *testing.T) {
	started := time.Now()
	res := Run(t.Context(), proxyDownScenario(), RunOptions{Command: []string{"sh", "-c", "echo 'cannot work' >&2; exit 3"}})
	assert.Less(t, time.Since(started), 5*time.Second)
	assert.Equal(t, result.Fail, res.Verdict)
	assert.Contains(t, res.Error, "exited on its own (exit status 3)")
	assert.Equal(t, result.Fail, checkNamed(t, res, "valid-run").Verdict)
	var stderr []string
	for _, e := range res.Timeline {
		if e.Kind == result.KindStderr {
			stderr = append(stderr, e.Text)
		}
	}
	assert.Equal(t, []string{"cannot work"}, stderr)
}

func tapEv(t float64, kind result.Kind, conn uint64) result.Event {
	return result.Event{TMS: t, Source: result.SourceTap, Kind: kind, Conn: conn}
}

func srvEv(t float64, kind result.Kind, conn uint64, code result.CloseCode) result.Event {
	return result.Event{TMS: t, Source: result.SourceServer, Kind: kind, Conn: conn, Client: "c1", Code: code}
}

// The observer turns a black hole as the wire shows it into the client's
// lifecycle: connect, welcome, then a new connect while the old connection is
// still open (the client gave up on it), a refused dial, and recovery.
func TestWireObserver(t *testing.T) {
	o := newWireObserver("c1")
	o.setMinHealthy(500 * time.Millisecond)
	var got []result.Event
	for _, e := range []result.Event{
		tapEv(10, result.KindTapConnect, 1),
		srvEv(12, result.KindAccept, 1, 0),
		srvEv(13, result.KindWelcome, 1, 0),
		srvEv(14, result.KindEcho, 1, 0), // not a second ready
		// fault from 1000: the client notices at 1300 and dials again
		tapEv(1300, result.KindTapConnect, 2),
		tapEv(1301, result.KindTapRefused, 2),
		tapEv(1302, result.KindTapClosed, 2),
		tapEv(1400, result.KindTapClientClose, 1), // the old one, closed late
		tapEv(1450, result.KindTapConnect, 3),
		srvEv(1460, result.KindAccept, 2, 0),
		srvEv(1470, result.KindCloseSent, 2, 1012),
		tapEv(1480, result.KindTapClientClose, 3),
		tapEv(1600, result.KindTapConnect, 4),
		srvEv(1610, result.KindAccept, 3, 0),
		srvEv(1620, result.KindWelcome, 3, 0),
	} {
		got = append(got, o.feed(e)...)
	}
	type row struct {
		t       float64
		kind    result.Kind
		conn    uint64
		cause   result.Cause
		code    result.CloseCode
		attempt int
		delay   float64
	}
	var rows []row
	for _, e := range got {
		assert.Equal(t, result.SourceClient, e.Source)
		assert.Equal(t, "c1", e.Client)
		assert.Equal(t, result.ViaWire, e.Via)
		rows = append(rows, row{e.TMS, e.Kind, e.Conn, e.Cause, e.Code, e.Attempt, e.DelayMS})
	}
	assert.Equal(t, []row{
		{10, result.KindDialing, 1, "", 0, 0, 0},
		{13, result.KindReady, 1, "", 0, 0, 0},
		{1300, result.KindDisconnected, 1, result.CauseRedialed, 0, 1, 0}, // ready 1287 ms >= 500: attempts start again
		{1300, result.KindDialing, 2, "", 0, 1, 0},
		{1302, result.KindDisconnected, 2, result.CauseNetwork, 0, 2, 0},
		{1302, result.KindBackoff, 2, "", 0, 2, 148},
		{1450, result.KindDialing, 3, "", 0, 2, 0},
		{1480, result.KindDisconnected, 3, result.CauseSocketClosed, 1012, 3, 0},
		{1480, result.KindBackoff, 3, "", 1012, 3, 120},
		{1600, result.KindDialing, 4, "", 0, 3, 0},
		{1620, result.KindReady, 4, "", 0, 3, 0},
	}, rows)

	tl := &Timeline{Clients: []string{"c1"}, Faults: []result.Fault{{Kind: FaultBlackHole, StartMS: 1000, EndMS: 1500}}, Events: got}
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
	var got []result.Event
	for _, e := range []result.Event{
		tapEv(10, result.KindTapConnect, 1),
		srvEv(11, result.KindStall, 0, 0),
		tapEv(510, result.KindTapClientClose, 1),
		tapEv(600, result.KindTapConnect, 2),
		srvEv(610, result.KindAccept, 1, 0),
		srvEv(611, result.KindWelcome, 1, 0),
	} {
		got = append(got, o.feed(e)...)
	}
	// A stalled upgrade the server lets go first is not the client's
	// timeout: the upstream side ended before the client closed.
	got = append(got, o.feed(tapEv(700, result.KindTapConnect, 3))...)
	got = append(got, o.feed(srvEv(701, result.KindStall, 0, 0))...)
	got = append(got, o.feed(tapEv(800, result.KindTapUpstreamClose, 3))...)
	got = append(got, o.feed(tapEv(801, result.KindTapClientClose, 3))...)
	o.setStopping()
	got = append(got, o.feed(tapEv(900, result.KindTapClientClose, 2))...)
	tl := &Timeline{Clients: []string{"c1"}, Events: got}
	var kinds []result.Kind
	var causes []result.Cause
	for _, e := range tl.ClientEvents("c1") {
		kinds = append(kinds, e.Kind)
		if e.Kind == result.KindDisconnected {
			causes = append(causes, e.Cause)
		}
	}
	assert.Equal(t, []result.Kind{result.KindDialing, result.KindDisconnected, result.KindBackoff, result.KindDialing, result.KindReady,
		result.KindDisconnected, result.KindDialing, result.KindDisconnected}, kinds,
		"the close during the harness's stop is filtered as cause stopped")
	assert.Equal(t, []result.Cause{result.CauseHandshakeTimeout, result.CauseRedialed, result.CauseSocketClosed}, causes)
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{kind: result.KindStdout, onLine: func(kind result.Kind, line string) { got = append(got, string(kind)+":"+line) }}
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
	wire := func(t float64, kind result.Kind, code int, delay float64, attempt int) result.Event {
		e := result.Event{TMS: t, Source: result.SourceClient, Client: "c1", Kind: kind,
			DelayMS: delay, Attempt: attempt, Via: result.ViaWire}
		if code < 1000 {
			e.Status = code
		} else {
			e.Code = result.CloseCode(code)
		}
		return e
	}
	tl := &Timeline{
		Clients: []string{"c1"},
		Options: client.Options{Backoff: client.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}},
		Faults:  []result.Fault{{Kind: FaultReject, StartMS: 1000, EndMS: 2000}},
		Events: []result.Event{
			{Source: result.SourceHarness, Kind: result.KindOutside, Client: "c1"},
			wire(10, result.KindDialing, 0, 0, 0), wire(20, result.KindReady, 0, 0, 0),
			wire(1010, result.KindDisconnected, 1006, 0, 1),
			// 150 ms on the wire for a delay of at most 100: within the
			// wire's allowance of AtOnce.
			wire(1010, result.KindBackoff, 0, 150, 1),
			wire(1160, result.KindDialing, 0, 0, 1),
			wire(1170, result.KindDisconnected, 401, 0, 2),
		},
	}
	for _, c := range []Check{NoLoss(""), GapReported(""), SawCloseCode(1006, ""), BackoffNotReset("")} {
		got := c.Eval(tl)
		assert.Equal(t, result.NotApplicable, got.Verdict, "%s: got %+v, want not applicable", c.Target.Name, got)
		assert.True(t, strings.HasPrefix(got.Margin, "c1: outside client"), "got %q", got.Margin)
	}
	assert.Equal(t, result.Pass, DelaysWithinPolicy("").Eval(tl).Verdict)
	stops := StopsOnFatal(401, "").Eval(tl)
	assert.Equal(t, result.Pass, stops.Verdict, "no dial after the server's 401: %+v", stops)
	assert.Equal(t, "0 dials after 401", stops.Got)
	assert.Equal(t, result.ViaWire, stops.Via)

	// 998 ms after a 401 on the wire is a 1 s wait: the client's teardown.
	hint := WaitsAtLeastHint(401, time.Second, "").Eval(&Timeline{Clients: tl.Clients, Events: append(slices.Clone(tl.Events[:7]),
		wire(2168, result.KindDialing, 0, 0, 2))})
	assert.Equal(t, result.Pass, hint.Verdict, "%+v", hint)
	assert.Contains(t, hint.Margin, "2 ms under the hint as the wire saw it")
	late := WaitsAtLeastHint(401, time.Second, "").Eval(&Timeline{Clients: tl.Clients, Events: append(slices.Clone(tl.Events[:7]),
		wire(2200, result.KindDialing, 0, 0, 2))})
	assert.Equal(t, result.Pass, late.Verdict)
	early := WaitsAtLeastHint(401, time.Second, "").Eval(&Timeline{Clients: tl.Clients, Events: append(slices.Clone(tl.Events[:7]),
		wire(2120, result.KindDialing, 0, 0, 2))})
	assert.Equal(t, result.Fail, early.Verdict, "50 ms short is beyond the teardown")

	tl.Events = append(tl.Events, wire(1500, result.KindDialing, 0, 0, 2))
	assert.Equal(t, result.Fail, StopsOnFatal(401, "").Eval(tl).Verdict, "a dial after the 401")
	tl.Events = append(tl.Events, wire(1600, result.KindBackoff, 0, 300, 1))
	assert.Equal(t, result.Fail, DelaysWithinPolicy("").Eval(tl).Verdict, "300 ms is beyond any allowance for attempt 1")
}
