package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestHTMLGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, fixedResult()))
	golden(t, "report.golden.html", buf.Bytes())
}

func TestJUnitGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJUnit(&buf, fixedResult()))
	golden(t, "junit.golden.xml", buf.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, fixedResult()))
	golden(t, "result.golden.json", buf.Bytes())
}

func TestHTMLDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	require.NoError(t, WriteHTML(&a, fixedResult()))
	require.NoError(t, WriteHTML(&b, fixedResult()))
	assert.Equal(t, a.String(), b.String())
}

func TestHTMLContents(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, fixedResult()))
	html := buf.String()
	for _, want := range []string{
		`<header class="banner fail"`,
		`<b>6</b> passed`, `<b>3</b> failed (2 against mutants, as they should)`,
		`✓ caught`, `<span class="tag">mutant</span>`, `>n/a</span>`, `5, 6, 7`,
		`id="s-BlackHole--reference"`, `href="#s-BlackHole--reference"`,
		`id="s-PongWithheld--slow-heartbeat"`,
		`PingInterval 200ms &#43; PongTimeout 150ms`, // a target's why (html/template escapes +)
		`missed by 692 ms`,                           // a failed check's margin
		`wschaos run -seed 42`,                       // reproduce command
		`2.12.0`, `embedded`, `go1.26.0`, `2026-11-26T12:00:00Z`,
		`class="chart timeline"`, `class="chart backoff"`, `class="chart cdf"`, `class="chart herd"`,
		`id="matrix"`, `<td class="c-caught"`, `<td class="c-missed"`, `<td class="c-fail"`, `<td class="c-none"`,
		`herd-spread limit: 3 per 100 ms`, `✗ not caught`,
		`the other 4 mutant runs get a compact section`,
		`Policy: initial 150 ms, ×2 per attempt up to 1,000 ms, jitter 50%`,
		`1 outside the envelope`,              // PongWithheld's 80 ms against its 100 to 200 ms
		`class="fault"`, `class="fault-line"`, // a window and an instant fault
		`detect 312.4 ms of 350 ms budget`,
		`detect 1,042 ms, over its 350 ms budget by 692 ms`,
		`>1006</text>`, `>gap</text>`, `>fatal 4001</text>`,
	} {
		contains(t, html, want)
	}
	// Full sections: every run against a client that is no mutant, and the
	// first scenario that caught each mutant (BlackHole for no-heartbeat).
	assert.Equal(t, 5, strings.Count(html, `class="chart timeline"`))
	assert.Equal(t, 4, strings.Count(html, ` compact" id=`))
	contains(t, html, `<section class="scenario fail mutant caught" id="s-BlackHole--no-heartbeat"`)
	contains(t, html, `<section class="scenario fail mutant caught compact" id="s-PongWithheld--no-heartbeat"`)
	assert.Equal(t, 3, strings.Count(html, `class="chart backoff"`))
	assert.Equal(t, 1, strings.Count(html, `class="chart cdf"`))
	notContains(t, html, "http://")
	notContains(t, html, "https://")
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

func TestHTMLEscapes(t *testing.T) {
	r := fixedResult()
	r.Scenarios[0].Description = `<script>alert("pwned")</script>`
	r.Scenarios[0].Name = `Evil"><img src=x onerror=alert(1)>`
	r.Scenarios[0].Timeline[0].Reason = `</title><script>alert(2)</script>`
	r.Scenarios[0].Faults[0].Kind = `<b>bold</b>`
	r.Run.Command = `wschaos run </pre><script>x()</script>`
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, r))
	html := buf.String()
	notContains(t, html, "<script")
	notContains(t, html, "<img")
	notContains(t, html, "<b>bold</b>")
	contains(t, html, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;")
	// The id keeps only safe characters.
	contains(t, html, `id="s-Evil-img-src-x-onerror-alert-1--reference"`)
}

func TestHTMLSurvivesOddResults(t *testing.T) {
	many := Scenario{Name: "Herd", Client: "reference", Verdict: Pass,
		Faults: []Fault{{Kind: "proxy_down", StartMS: 500, EndMS: 400}}}
	for i := range 20000 {
		many.Timeline = append(many.Timeline, Event{TMS: float64(i) / 4, Source: "client", Client: "c" + string(rune('a'+i%26)), Conn: uint64(i % 40), Kind: []string{"ping", "pong", "ready", "disconnected", "backoff"}[i%5], Code: 1006, DelayMS: 50})
	}
	for i := range 1000 {
		many.Measured.DelaysMS = append(many.Measured.DelaysMS, float64(i))
	}
	for _, r := range []*Result{
		{},
		{Scenarios: []Scenario{{}}},
		{Scenarios: []Scenario{{Name: "x", Timeline: []Event{{TMS: 5}}, Faults: []Fault{{StartMS: 1e300, EndMS: -1e300}}}}},
		{Scenarios: []Scenario{many}},
		{Scenarios: []Scenario{{Name: "odd spread", Faults: []Fault{{StartMS: 10, EndMS: 5}},
			Checks:   []Check{{Name: "herd-spread", Want: "<= 1e400 per 0ms"}},
			Policy:   &BackoffPolicy{InitialMS: 1e-300, MaxMS: 1e11, Multiplier: 1.0000001, Jitter: 1},
			Measured: Measured{PerClient: []ClientFigure{{RecoverMS: ptr(math.NaN())}, {RecoverMS: ptr(math.Inf(1)), DetectMS: ptr(-5)}, {}}},
			Timeline: []Event{{TMS: 1, Source: "client", Client: "a", Kind: "dialing"}, {TMS: 2, Source: "client", Client: "b", Kind: "backoff", DelayMS: 1e300, Attempt: 1 << 40}}}}},
		{Scenarios: []Scenario{{Name: "nan", DurationMS: math.NaN(),
			Faults:   []Fault{{StartMS: math.Inf(1), EndMS: math.NaN()}},
			Targets:  []Target{{Name: "detect", Limit: math.NaN()}},
			Measured: Measured{DetectMS: ptr(math.Inf(-1)), DelaysMS: []float64{math.NaN(), math.Inf(1)}},
			Timeline: []Event{{TMS: math.NaN()}, {TMS: 1, Kind: "backoff", DelayMS: math.Inf(1)}}}}},
	} {
		var buf bytes.Buffer
		require.NoError(t, WriteHTML(&buf, r))
		var j bytes.Buffer
		require.NoError(t, WriteJUnit(&j, r))
	}
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, &Result{Scenarios: []Scenario{many}}))
	html := buf.String()
	contains(t, html, "more clients")
	contains(t, html, "Labels are thinned")
	contains(t, html, "600 of 4000 delays shown (at most 60 retries and 600 delays)")
	assert.Less(t, buf.Len(), 3<<20, "a 20,000-event timeline should stay a few MB at most")
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	r := fixedResult()
	r.Scenarios = append(r.Scenarios, Scenario{Name: "Broken", Client: "external", Verdict: Fail, Error: "toxiproxy: connection refused", DurationMS: 12})
	require.NoError(t, WriteJUnit(&buf, r))
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Cases    []struct {
				Classname string `xml:"classname,attr"`
				Name      string `xml:"name,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	assert.Equal(t, "wschaos", s.Name)
	assert.Equal(t, 12, s.Tests)
	assert.Equal(t, 2, s.Failures, "PongWithheld against slow-heartbeat, and no-jitter not caught")
	assert.Equal(t, 1, s.Errors)
	require.Len(t, s.Cases, 12)
	assert.Nil(t, s.Cases[3].Failure, "a mutant failing is no failure")
	assert.Equal(t, "no-heartbeat", s.Cases[10].Classname)
	assert.Equal(t, "Caught", s.Cases[10].Name)
	assert.Nil(t, s.Cases[10].Failure)
	assert.Equal(t, "no-jitter", s.Cases[11].Classname)
	assert.NotNil(t, s.Cases[11].Failure)
	assert.Equal(t, "reference", s.Cases[0].Classname)
	assert.Equal(t, "BlackHole", s.Cases[0].Name)
	assert.Equal(t, "4.000", s.Cases[0].Time)
	assert.Nil(t, s.Cases[0].Failure)
	require.NotNil(t, s.Cases[1].Failure)
	assert.Equal(t, "2 failed check(s): detect: got 1042 ms, want <= 350 ms (missed by 692 ms); lost: got 3 (seq 5..7), want 0 (missed by 3)", s.Cases[1].Failure.Message)
	require.NotNil(t, s.Cases[9].Error)
	assert.Equal(t, "toxiproxy: connection refused", s.Cases[9].Error.Message)
}

func TestJSONRoundTrip(t *testing.T) {
	want := fixedResult()
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, want))
	assert.True(t, strings.HasPrefix(buf.String(), "{\n  \"schema\": \"wschaos.result/v1\""), "indented, schema first")
	got, err := ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestWriteJSONFillsSchema(t *testing.T) {
	r := fixedResult()
	r.Schema = ""
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, r))
	assert.Empty(t, r.Schema, "WriteJSON must not modify its argument")
	got, err := ReadJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, Schema, got.Schema)
}

func TestWriteJSONRejectsInvalid(t *testing.T) {
	r := fixedResult()
	r.Scenarios[1].Verdict = "flaky"
	var buf bytes.Buffer
	err := WriteJSON(&buf, r)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `verdict is "flaky", want "pass" or "fail"`)
	assert.Zero(t, buf.Len(), "nothing written")

	r = fixedResult()
	r.Scenarios[0].DurationMS = math.NaN()
	require.ErrorContains(t, WriteJSON(&buf, r), "NaN")

	r = fixedResult()
	r.Schema = "wschaos.result/v0"
	require.ErrorIs(t, WriteJSON(&buf, r), ErrSchema)
	require.ErrorIs(t, WriteJSON(&buf, nil), ErrInvalid)
}

func TestReadJSONRejects(t *testing.T) {
	var valid bytes.Buffer
	require.NoError(t, WriteJSON(&valid, fixedResult()))
	full := valid.String()

	for _, tc := range []struct {
		name, in string
		is       error
		msg      []string
	}{
		{"empty", "", ErrCorrupt, []string{"empty input"}},
		{"blank", " \n\t", ErrCorrupt, []string{"empty input"}},
		{"truncated", full[:len(full)/2], ErrCorrupt, []string{"truncated at line", "offset"}},
		{"corrupt", "{\n  \"schema\": \"wschaos.result/v1\",\n  \"scenarios\": [}\n", ErrCorrupt, []string{"syntax error at line 3, column 17 (offset 51)"}},
		{"trailing data", full + "{}", ErrCorrupt, []string{"syntax error", "after top-level value"}},
		{"array", "[]", ErrCorrupt, []string{"line 1, column 2"}},
		{"wrong type", `{"schema":"wschaos.result/v1","scenarios":[{"name":"A","verdict":"pass","duration_ms":"slow"}]}`, ErrCorrupt, []string{"scenarios.duration_ms", "want float64"}},
		{"wrong schema", `{"schema":"wschaos.result/v2","scenarios":[]}`, ErrSchema, []string{`schema is "wschaos.result/v2", want "wschaos.result/v1"`}},
		{"schema not a string", `{"schema":2}`, ErrCorrupt, []string{"schema"}},
		{"no schema", `{"scenarios":[]}`, ErrInvalid, []string{`missing field "schema"`}},
		{"no scenarios", `{"schema":"wschaos.result/v1"}`, ErrInvalid, []string{`missing field "scenarios"`}},
		{"null scenarios", `{"schema":"wschaos.result/v1","scenarios":null}`, ErrInvalid, []string{`missing field "scenarios"`}},
		{"scenario without name", `{"schema":"wschaos.result/v1","scenarios":[{"verdict":"pass"}]}`, ErrInvalid, []string{`scenarios[0]: missing field "name"`}},
		{"scenario without verdict", `{"schema":"wschaos.result/v1","scenarios":[{"name":"A"}]}`, ErrInvalid, []string{`scenarios[0] ("A"): missing field "verdict", want "pass" or "fail"`}},
		{"bad verdict", `{"schema":"wschaos.result/v1","scenarios":[{"name":"A","verdict":"ok"}]}`, ErrInvalid, []string{`verdict is "ok"`}},
		{"verdict contradicts", `{"schema":"wschaos.result/v1","verdict":"pass","scenarios":[{"name":"A","verdict":"fail"}]}`, ErrInvalid, []string{`verdict is "pass" but scenarios[0] ("A") failed`}},
		{"verdict contradicts past a mutant", `{"schema":"wschaos.result/v1","verdict":"pass","clients":[{"name":"m","mutant":true}],"scenarios":[{"name":"A","client":"m","verdict":"fail"},{"name":"B","client":"ref","verdict":"fail"}]}`, ErrInvalid, []string{`but scenarios[1] ("B") failed`}},
		{"several problems", `{"schema":"wschaos.result/v1","scenarios":[{"verdict":"pass"},{"name":"B"}]}`, ErrInvalid, []string{`scenarios[0]: missing field "name"`, `scenarios[1] ("B"): missing field "verdict"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadJSON(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, tc.is)
			for _, m := range tc.msg {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestReadJSONAcceptsFailingMutants(t *testing.T) {
	got, err := ReadJSON(strings.NewReader(`{"schema":"wschaos.result/v1","verdict":"pass","clients":[{"name":"m","mutant":true,"caught":true}],"scenarios":[{"name":"A","client":"m","verdict":"fail"}]}`))
	require.NoError(t, err)
	assert.Equal(t, Pass, got.Verdict)
}

func TestReadJSONAcceptsEmptyRunAndUnknownFields(t *testing.T) {
	got, err := ReadJSON(strings.NewReader(`{"schema":"wschaos.result/v1","scenarios":[],"added_later":{"x":1}}`))
	require.NoError(t, err)
	assert.Empty(t, got.Scenarios)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadJSONReaderError(t *testing.T) {
	_, err := ReadJSON(failingReader{})
	require.ErrorContains(t, err, "disk on fire")
}

func TestWriteFilesAndReadFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	require.NoError(t, WriteFiles(dir, fixedResult()))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"index.html", "junit.xml", "result.json"}, names, "no temporary files left")

	got, err := ReadFile(filepath.Join(dir, JSONFile))
	require.NoError(t, err)
	assert.Equal(t, fixedResult(), got)

	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, WriteHTML(&want, fixedResult()))
	assert.Equal(t, want.String(), string(html))

	_, err = ReadFile(filepath.Join(dir, "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"schema":"x"}`), 0o644))
	_, err = ReadFile(bad)
	require.ErrorIs(t, err, ErrSchema)
	assert.Contains(t, err.Error(), bad)

	invalid := fixedResult()
	invalid.Scenarios[0].Name = ""
	other := filepath.Join(t.TempDir(), "out")
	require.ErrorIs(t, WriteFiles(other, invalid), ErrInvalid)
	_, err = os.Stat(other)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing created for an invalid result")
}

func FuzzReadJSON(f *testing.F) {
	var valid bytes.Buffer
	if err := WriteJSON(&valid, fixedResult()); err != nil {
		f.Fatal(err)
	}
	f.Add(valid.Bytes())
	var stress bytes.Buffer
	if err := WriteJSON(&stress, stressResult()); err != nil {
		f.Fatal(err)
	}
	f.Add(stress.Bytes())
	f.Add([]byte(`{"schema":"wschaos.result/v1","scenarios":[]}`))
	f.Add([]byte(`{"schema":"wschaos.result/v1","scenarios":[{"name":"A","verdict":"fail","faults":[{"kind":"k","start_ms":1e308,"end_ms":-1e308}],"timeline":[{"t_ms":-5,"source":"client","kind":"backoff","delay_ms":1e308}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			if r != nil {
				t.Fatalf("got a result and error %v", err)
			}
			return
		}
		// Whatever ReadJSON accepts must render and write back.
		if err := WriteHTML(&bytes.Buffer{}, r); err != nil {
			t.Fatalf("WriteHTML: %v", err)
		}
		if err := WriteJUnit(&bytes.Buffer{}, r); err != nil {
			t.Fatalf("WriteJUnit: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		if _, err := ReadJSON(&buf); err != nil {
			t.Fatalf("ReadJSON of WriteJSON output: %v", err)
		}
	})
}
