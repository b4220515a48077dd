package reports

import (
	"bytes"
	"encoding/xml"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./reports -update to create it")
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (got %d bytes, want %d); if the change is intended run go test ./reports -update", path, len(got), len(want))
	}
}

func render(t *testing.T, r *result.Result) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, r))
	return buf.String()
}

// contains and notContains report only the needle: the haystack is a whole
// page, too long to print.
func contains(t *testing.T, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Errorf("output lacks %q", want)
	}
}

func notContains(t *testing.T, s, unwanted string) {
	t.Helper()
	if strings.Contains(s, unwanted) {
		t.Errorf("output contains %q", unwanted)
	}
}

func TestHTMLGolden(t *testing.T) {
	golden(t, "report.golden.html", []byte(render(t, fixedResult())))
}

func TestJUnitGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, fixedResult()))
	golden(t, "junit.golden.xml", buf.Bytes())
}

func TestHTMLDeterministic(t *testing.T) {
	assert.Equal(t, render(t, fixedResult()), render(t, fixedResult()))
}

func TestHTMLContents(t *testing.T) {
	html := render(t, fixedResult())
	for _, want := range []string{
		`<header class="banner fail"`, `<h1>✗ FAIL</h1>`,
		// Every count, as Result.Summary holds it.
		`<b>4</b> passed · <b>1</b> failed · <b>1</b> n/a · <b>1</b> interrupted · <b>1</b> not run · mutants: <b>1</b> of 2 caught, over 5 runs`,
		`✓ caught`, `<span class="tag">mutant</span>`, `>n/a</span>`,
		`id="s-BlackHole--reference"`, `href="#s-BlackHole--reference"`, `id="s-PongWithheld--bot"`,
		`PingInterval 200ms &#43; PongTimeout 150ms`, // a target's why (html/template escapes +)
		`350 ms promised &#43; 147.5 ms allowed`,     // its bound and allowance
		`missed by 692 ms`,                           // a failed check's margin
		`wschaos run -seed 42`,                       // reproduce command
		`2.12.0`, `embedded`, `go1.26.0`, `2026-11-26T12:00:00Z`,
		`race detector on`, `<dd>×2</dd>`, `<dd class="mono">fake server</dd>`, `interrupted: cut short`,
		`class="chart timeline"`, `class="chart backoff"`, `class="chart cdf"`, `class="chart herd"`,
		`id="matrix"`, `<td class="c-caught"`, `<td class="c-missed"`, `<td class="c-fail"`, `<td class="c-none"`,
		`<td class="c-na"`, `<td class="c-interrupted"`, `<td class="c-notrun"`,
		`herd-spread limit: 3 per 100 ms`, `✗ not caught`, `1 check missed`, `missed: <span>MassDrop: herd-spread</span>`,
		`the other 4 mutant runs get a compact section`,
		`Policy: 150 ms ×2 per attempt up to 1,000 ms, jitter 50%`,
		`<b class="nok">1 outside policy</b>`,
		`class="fault"`, `class="fault-line"`, // a window and an instant fault
		`detect 312.4 ms (495.9 ms from silence) · budget 497.5 ms`,
		`detect 1,042 ms (1,092 ms from silence) · budget 350 ms: missed by 692 ms`,
		`<b>312.4 ms</b><span>detection, from the fault</span>`, `<b>495.9 ms</b><span>detection, from silence</span>`,
		`>1006</text>`, `>4401</text>`, `class="m-fatal"`, `>undelivered</text>`,
		// The outside client: its command, its plainness, its profile and
		// events and figures read off the wire.
		`./bot --ping 1s --url $WSCHAOS_URL`, `plain WebSocket: continuity not judged`,
		`ping every 1,000 ms, pong within 500 ms · handshake within 1,000 ms · backoff 200 ms ×2 per attempt up to 2,000 ms, jitter 50%`,
		`client · conn 1 · wire`, `class="m-dialing wire"`, `from the wire`, `<span class="tag wire" title="the figure was read off the wire">wire</span>`,
		// The reference client's figures say they are its own.
		`<span class="tag self">own events</span><span>the client's own account of its lifecycle</span>`,
		// The packet link.
		`<h3>Packet link</h3>`, `class="link-drops"`, `136 dropped`,
		// Problems, by verdict.
		`<div class="problem interrupted"><b>Interrupted:</b> interrupted (SIGINT) at 880 ms, while fault 1 held</div>`,
		`<div class="problem na"><b>Not run:</b> the run was interrupted before this scenario started</div>`,
		`<div class="problem na"><b>Nothing to judge:</b> gap-reported: plain WebSocket`,
		`<span class="pill interrupted">interrupted</span>`, `<span class="pill notrun">not run</span>`, `<span class="pill na">n/a</span>`,
	} {
		contains(t, html, want)
	}
	// Full sections: every run against a client that is no mutant, and the
	// first scenario that caught each mutant (BlackHole for no-heartbeat).
	assert.Equal(t, 8, strings.Count(html, `class="chart timeline"`))
	assert.Equal(t, 4, strings.Count(html, ` compact" id=`))
	contains(t, html, `<section class="scenario fail mutant caught" id="s-BlackHole--no-heartbeat"`)
	contains(t, html, `<section class="scenario fail mutant caught compact" id="s-PongWithheld--no-heartbeat"`)
	assert.Equal(t, 3, strings.Count(html, `class="chart backoff"`))
	assert.Equal(t, 1, strings.Count(html, `class="chart cdf"`))
	notContains(t, html, "http://")
	notContains(t, html, "https://")
}

// TestBanner: the banner is coloured by the run's verdict, as the result
// holds it.
func TestBanner(t *testing.T) {
	for v, want := range map[result.Verdict]string{
		result.Pass:          `<header class="banner pass" id="top">` + "\n" + `<div class="inner">` + "\n" + `<h1>✓ PASS</h1>`,
		result.Fail:          `<header class="banner fail" id="top">` + "\n" + `<div class="inner">` + "\n" + `<h1>✗ FAIL</h1>`,
		result.Interrupted:   `<header class="banner interrupted" id="top">` + "\n" + `<div class="inner">` + "\n" + `<h1>⚠ INTERRUPTED</h1>`,
		result.NotApplicable: `<header class="banner na" id="top">` + "\n" + `<div class="inner">` + "\n" + `<h1>N/A</h1>`,
	} {
		r := fixedResult()
		r.Verdict = v
		contains(t, render(t, r), want)
	}
}

// TestNotApplicableCheck: an n/a check is shown as n/a, never as passed,
// with its margin saying why; a scenario whose verdict is n/a is skipped
// in JUnit.
func TestNotApplicableCheck(t *testing.T) {
	html := render(t, &result.Result{Scenarios: []result.Scenario{pongWithheld(), resumeGap()}})
	contains(t, html, `<tr class="na"><td class="mono">continuity</td><td class="verdict" title="not applicable: nothing to judge, never counted as passed"><span class="na-mark">n/a</span></td>`)
	contains(t, html, `plain WebSocket: the client does not speak the session protocol</td>`)
	notContains(t, html, `<td class="mono">continuity</td><td class="verdict" title="passed"`)

	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, &result.Result{Scenarios: []result.Scenario{resumeGap()}}))
	contains(t, buf.String(), `<skipped message="n/a: gap-reported: plain WebSocket: the client does not speak the session protocol, so it cannot report a gap"></skipped>`)
	contains(t, buf.String(), `skipped="1"`)
	notContains(t, buf.String(), `<failure`)
}

// TestInterruptedScenario: a scenario cut short is shown as interrupted,
// in the summary, the matrix, its section and JUnit.
func TestInterruptedScenario(t *testing.T) {
	r := fixedResult()
	p := buildPage(r)
	var sec *section
	for i := range p.Sections {
		if p.Sections[i].Name == "SlowLoris" {
			sec = &p.Sections[i]
		}
	}
	require.NotNil(t, sec)
	assert.Equal(t, verdictView{"interrupted", "interrupted"}, sec.Verdict)
	require.NotNil(t, sec.Problem)
	assert.Equal(t, "interrupted", sec.Problem.Class)
	html := render(t, r)
	contains(t, html, `<section class="scenario interrupted" id="s-SlowLoris--reference">`)
	contains(t, html, `<td class="c-interrupted" title="SlowLoris × reference: interrupted`)

	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, r))
	contains(t, buf.String(), `<skipped message="interrupted: interrupted (SIGINT) at 880 ms, while fault 1 held"></skipped>`)
}

func TestHTMLEscapes(t *testing.T) {
	r := fixedResult()
	r.Scenarios[0].Description = `<script>alert("pwned")</script>`
	r.Scenarios[0].Name = `Evil"><img src=x onerror=alert(1)>`
	r.Scenarios[0].Timeline[0].Reason = `</title><script>alert(2)</script>`
	r.Scenarios[0].Timeline[1].Text = `<b>text</b> is for people`
	r.Scenarios[0].Faults[0].Kind = `<b>bold</b>`
	r.Run.Command = `wschaos run </pre><script>x()</script>`
	r.Clients[1].Command = `<img src=y>`
	html := render(t, r)
	notContains(t, html, "<script")
	notContains(t, html, "<img")
	notContains(t, html, "<b>bold</b>")
	notContains(t, html, "<b>text</b>")
	contains(t, html, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;")
	// The id keeps only safe characters.
	contains(t, html, `id="s-Evil-img-src-x-onerror-alert-1--reference"`)
}

func TestHTMLSurvivesOddResults(t *testing.T) {
	many := result.Scenario{Name: "Herd", Client: "reference", Verdict: result.Pass, Clients: 26,
		Faults: []result.Fault{{Kind: "proxy_down", StartMS: 500, EndMS: 400}}}
	kinds := []result.Kind{result.KindPing, result.KindPong, result.KindReady, result.KindDisconnected, result.KindBackoff}
	for i := range 20000 {
		many.Timeline = append(many.Timeline, result.Event{TMS: float64(i) / 4, Source: cli, Client: "c" + string(rune('a'+i%26)),
			Conn: uint64(i % 40), Kind: kinds[i%5], Code: 1006, DelayMS: 50})
	}
	for i := range 1000 {
		many.Measured.Delays = append(many.Measured.Delays, result.Delay{Attempt: 1 + i%100, DelayMS: float64(i), LoMS: 1, HiMS: 2})
	}
	odd := result.Scenario{Name: "odd spread", Faults: []result.Fault{{StartMS: 10, EndMS: 5}},
		Profile: &result.Profile{Backoff: result.BackoffPolicy{InitialMS: 1e-300, MaxMS: 1e11, Multiplier: 1.0000001, Jitter: 1}},
		Measured: result.Measured{
			PerClient: []result.ClientFigure{{RecoverMS: ptr(math.NaN())}, {RecoverMS: ptr(math.Inf(1)), DetectMS: ptr(-5)}, {}},
			Spread: &result.Spread{Clients: -3, Recovered: 9, WindowMS: 1e-300, FromMS: math.NaN(),
				Recover:    result.Distribution{N: 2, P50: math.NaN(), P90: math.Inf(1), P99: -1, Max: 1e300},
				RecoverCDF: []result.CDFPoint{{MS: math.NaN(), Fraction: 2}, {MS: -1, Fraction: -1}, {MS: 1e300, Fraction: 0.5}},
				FirstDials: []result.Bucket{{Index: -1 << 40, Count: 3}, {Index: 1 << 40, Count: -2}}, HerdLimit: math.Inf(1)},
			Delays: []result.Delay{{Attempt: 1 << 40, DelayMS: 1e300}, {Attempt: 2, DelayMS: math.NaN(), LoMS: math.Inf(1)}},
		},
		Timeline: []result.Event{{TMS: 1, Source: cli, Client: "a", Kind: result.KindDialing}, {TMS: 2, Source: cli, Client: "b", Kind: result.KindBackoff, DelayMS: 1e300, Attempt: 1 << 40}}}
	huge := result.Scenario{Name: "huge herd", Measured: result.Measured{Spread: &result.Spread{Clients: 2, WindowMS: 1, FromMS: 1e300,
		FirstDials: []result.Bucket{{Index: 0, Count: 1}, {Index: 1 << 40, Count: 1}}, OtherDials: []result.Bucket{{Index: -5, Count: 1e9}}}}}
	for _, r := range []*result.Result{
		{},
		{Scenarios: []result.Scenario{{}}},
		{Scenarios: []result.Scenario{{Name: "x", Timeline: []result.Event{{TMS: 5}}, Faults: []result.Fault{{StartMS: 1e300, EndMS: -1e300}}}}},
		{Scenarios: []result.Scenario{many}},
		{Scenarios: []result.Scenario{odd, huge}},
		{Verdict: "flaky", Scenarios: []result.Scenario{{Name: "nan", Verdict: "odd", DurationMS: math.NaN(),
			Faults:   []result.Fault{{StartMS: math.Inf(1), EndMS: math.NaN()}},
			Targets:  []result.Target{{Name: "detect", Limit: math.NaN()}},
			Checks:   []result.Check{{Name: "detect", Verdict: "maybe", Value: ptr(math.NaN())}},
			Measured: result.Measured{DetectMS: ptr(math.Inf(-1)), DetectFromMS: ptr(math.NaN()), RecoverFromMS: ptr(1), RecoveredAtMS: ptr(math.Inf(1))},
			Link:     &result.LinkPackets{},
			Timeline: []result.Event{{TMS: math.NaN()}, {TMS: 1, Kind: result.KindBackoff, DelayMS: math.Inf(1)},
				{TMS: 2, Source: lnk, Kind: result.KindLinkStats}, {TMS: 3, Source: lnk, Kind: result.KindLinkStats, Packets: &result.LinkPackets{}}}}}},
	} {
		var buf bytes.Buffer
		require.NoError(t, WriteHTML(&buf, r))
		var j bytes.Buffer
		require.NoError(t, WriteJUnit(&j, r))
	}
	html := render(t, &result.Result{Scenarios: []result.Scenario{many}})
	contains(t, html, "more clients")
	contains(t, html, "Labels are thinned")
	contains(t, html, "600 of 1000 delays shown (at most 60 retries and 600 delays)")
	assert.Less(t, len(html), 3<<20, "a 20,000-event timeline should stay a few MB at most")
}

func TestNilResult(t *testing.T) {
	require.EqualError(t, WriteHTML(&bytes.Buffer{}, nil), "reports: nil result")
	require.EqualError(t, WriteJUnit(&bytes.Buffer{}, nil), "reports: nil result")
	require.ErrorIs(t, WriteFiles(t.TempDir(), nil), result.ErrInvalid)
}

type junitDoc struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Time      string `xml:"time,attr"`
			Skipped   *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	r := fixedResult()
	r.Scenarios = append(r.Scenarios, result.Scenario{Name: "Broken", Client: "external", Verdict: result.Fail, Error: "toxiproxy: connection refused", DurationMS: 12})
	require.NoError(t, WriteJUnit(&buf, r))
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	assert.Equal(t, "wschaos", s.Name)
	assert.Equal(t, 16, s.Tests)
	assert.Equal(t, 2, s.Failures, "PongWithheld against ./bot, and no-jitter not caught")
	assert.Equal(t, 1, s.Errors)
	assert.Equal(t, 3, s.Skipped, "n/a, interrupted, not run")
	require.Len(t, s.Cases, 16)
	assert.Equal(t, "reference", s.Cases[0].Classname)
	assert.Equal(t, "BlackHole", s.Cases[0].Name)
	assert.Equal(t, "4.000", s.Cases[0].Time)
	assert.Nil(t, s.Cases[0].Failure)
	require.NotNil(t, s.Cases[1].Failure)
	assert.Equal(t, "2 failed check(s): detect: got 1042 ms, want <= 350 ms (missed by 692 ms); backoff: got 80 ms before retry 1, want within policy (20 ms below the 100 ms floor)", s.Cases[1].Failure.Message)
	assert.Nil(t, s.Cases[3].Failure, "a mutant failing is no failure")
	require.NotNil(t, s.Cases[10].Skipped)
	assert.True(t, strings.HasPrefix(s.Cases[10].Skipped.Message, "n/a: "))
	require.NotNil(t, s.Cases[11].Skipped)
	assert.True(t, strings.HasPrefix(s.Cases[11].Skipped.Message, "interrupted: "))
	require.NotNil(t, s.Cases[12].Skipped)
	assert.Equal(t, "not run: the run was interrupted before this scenario started", s.Cases[12].Skipped.Message)
	require.NotNil(t, s.Cases[13].Error)
	assert.Equal(t, "toxiproxy: connection refused", s.Cases[13].Error.Message)
	assert.Equal(t, "no-heartbeat", s.Cases[14].Classname)
	assert.Equal(t, "Caught", s.Cases[14].Name)
	assert.Nil(t, s.Cases[14].Failure)
	assert.Equal(t, "no-jitter", s.Cases[15].Classname)
	require.NotNil(t, s.Cases[15].Failure)
	assert.Equal(t, "mutant no-jitter was not caught: these checks did not fail against it: MassDrop: herd-spread", s.Cases[15].Failure.Message)
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	require.NoError(t, WriteFiles(dir, fixedResult()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{HTMLFile, JUnitFile, JSONFile}, names, "no temporary files left")

	js, err := os.ReadFile(filepath.Join(dir, JSONFile))
	require.NoError(t, err)
	golden(t, "result.golden.json", js)
	got, err := result.ReadFile(filepath.Join(dir, JSONFile), result.ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, fixedResult(), got)

	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	assert.Equal(t, render(t, fixedResult()), string(html))

	invalid := fixedResult()
	invalid.Scenarios[0].Name = ""
	other := filepath.Join(t.TempDir(), "out")
	err = WriteFiles(other, invalid)
	require.ErrorIs(t, err, result.ErrInvalid)
	assert.True(t, strings.HasPrefix(err.Error(), "reports: "), err.Error())
	_, err = os.Stat(other)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing created for an invalid result")
}

// FuzzRender renders whatever result.Read accepts.
func FuzzRender(f *testing.F) {
	for _, r := range []*result.Result{fixedResult(), stressResult()} {
		b, err := result.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"schema":"wschaos.result/v2","scenarios":[]}`))
	f.Add([]byte(`{"schema":"wschaos.result/v2","scenarios":[{"name":"A","verdict":"fail","faults":[{"kind":"k","start_ms":1e308,"end_ms":-1e308}],"timeline":[{"t_ms":-5,"source":"client","kind":"backoff","delay_ms":1e308}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := result.Read(bytes.NewReader(data), result.ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			return
		}
		if err := WriteHTML(&bytes.Buffer{}, r); err != nil {
			t.Fatalf("WriteHTML: %v", err)
		}
		if err := WriteJUnit(&bytes.Buffer{}, r); err != nil {
			t.Fatalf("WriteJUnit: %v", err)
		}
	})
}

// An MTU black hole drops packets for their size, not by loss: the link's
// drop line counts them too.
func TestLinkDropsCountTooBig(t *testing.T) {
	sc := lossyLink()
	for i, e := range sc.Timeline {
		if e.Kind == result.KindLinkStats {
			p := *e.Packets
			p.Up.TooBig, p.Up.Dropped, p.Down.Dropped = p.Up.Dropped, 0, 0
			sc.Timeline[i].Packets = &p
		}
	}
	html := render(t, &result.Result{Scenarios: []result.Scenario{sc}})
	contains(t, html, "64 dropped")
	contains(t, html, "too big for its MTU): 64 up, 0 down")
}
