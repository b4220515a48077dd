package result

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() *Result {
	d := 12.5
	return &Result{
		GeneratedAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		Verdict:     Pass,
		Summary:     Summary{Passed: 1},
		Scenarios: []Scenario{{
			Name: "ProxyDownFIN", Client: "reference", Verdict: Pass, Clients: 1,
			Faults:   []Fault{{Index: 1, Kind: "proxy-down", Layer: LayerNetwork, IssuedMS: 300, StartMS: 301, EndMS: 330}},
			Checks:   []Check{{Name: "detect", Verdict: Pass, Got: "12 ms", Value: &d, Unit: UnitMS}},
			Measured: Measured{DetectMS: &d},
			Timeline: []Event{
				{TMS: 1, Source: SourceClient, Kind: KindDialing, Client: "c1", Conn: 1},
				{TMS: 313, Source: SourceClient, Kind: KindDisconnected, Client: "c1", Conn: 1, Cause: CauseReadError, Code: 1006},
			},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	b, err := Marshal(sample())
	require.NoError(t, err)
	got, err := Read(bytes.NewReader(b), ReadOptions{})
	require.NoError(t, err)
	want := sample()
	want.Schema = Schema
	assert.Equal(t, want, got)
}

func TestReadRefuses(t *testing.T) {
	good, err := Marshal(sample())
	require.NoError(t, err)
	for _, tc := range []struct {
		name, in string
		is       error
		want     string
	}{
		{"empty", "  \n", ErrCorrupt, "empty input"},
		{"not json", "hello", ErrCorrupt, "syntax error at line 1, column 1"},
		{"syntax on line 3", "{\n\"schema\": \"wschaos.result/v2\",\n\"scenarios\": [}", ErrCorrupt, "line 3, column 15"},
		{"truncated", string(good[:len(good)/2]), ErrCorrupt, "truncated"},
		{"trailing", string(good) + "{}", ErrCorrupt, "more data after the result object"},
		{"array", `[1, 2]`, ErrCorrupt, "the input is a JSON array, want an object"},
		{"wrong field type", `{"schema": "wschaos.result/v2", "scenarios": "all"}`, ErrCorrupt, `field "scenarios" at line 1`},
		{"v1", `{"schema": "wschaos.result/v1", "scenarios": [{"name": "x", "verdict": "pass", "checks": [{"ok": true}]}]}`, ErrSchema, "written by an older wschaos"},
		{"v1 with a field v2 cannot read", `{"schema": "wschaos.result/v1", "scenarios": [{"name": "x", "verdict": "pass", "clients": "many"}]}`, ErrSchema, "wschaos.result/v1"},
		{"other", `{"schema": "other/v9", "scenarios": []}`, ErrSchema, `"other/v9"`},
		{"no schema", `{"scenarios": []}`, ErrInvalid, `missing field "schema"`},
		{"no scenarios", `{"schema": "wschaos.result/v2"}`, ErrInvalid, `missing field "scenarios"`},
		{"bad verdict", `{"schema": "wschaos.result/v2", "scenarios": [{"name": "x", "verdict": "ok"}]}`, ErrInvalid, `verdict is "ok"`},
		{"unknown kind", `{"schema": "wschaos.result/v2", "scenarios": [{"name": "x", "verdict": "pass", "timeline": [{"source": "tap", "kind": "closed"}]}]}`, ErrInvalid, `event kind "closed" is not in`},
		{"kind of another source", `{"schema": "wschaos.result/v2", "scenarios": [{"name": "x", "verdict": "pass", "timeline": [{"source": "tap", "kind": "ready"}]}]}`, ErrInvalid, `belongs to source "client"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in), ReadOptions{})
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "result.Result", "no Go type names in messages for people")
		})
	}
}

// endless is a reader that never ends, like /dev/zero.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// An endless or huge input is refused at the cap, in bounded memory.
func TestReadCap(t *testing.T) {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(io.MultiReader(strings.NewReader(`{"schema": "wschaos.result/v2", "x": "`), endless{}), ReadOptions{MaxBytes: 64 << 20})
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "more than 67108864 bytes")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The decoder buffers what it has read of one value; the cap bounds it.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(512<<20))

	_, err = Read(endless{}, ReadOptions{MaxBytes: 1 << 20})
	require.ErrorIs(t, err, ErrTooLarge)

	good, err := Marshal(sample())
	require.NoError(t, err)
	_, err = Read(bytes.NewReader(good), ReadOptions{MaxBytes: int64(len(good))})
	require.NoError(t, err, "a file of exactly the cap is read")
	_, err = Read(bytes.NewReader(good), ReadOptions{MaxBytes: int64(len(good) - 1)})
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(dir, ReadOptions{})
	assert.ErrorContains(t, err, "is a directory")
	_, err = ReadFile(filepath.Join(dir, "missing.json"), ReadOptions{})
	assert.ErrorContains(t, err, "missing.json")
	p := filepath.Join(dir, "r.json")
	good, err := Marshal(sample())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, good, 0o644))
	got, err := ReadFile(p, ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ProxyDownFIN", got.Scenarios[0].Name)
}

func TestMarshalRefuses(t *testing.T) {
	_, err := Marshal(nil)
	assert.ErrorIs(t, err, ErrInvalid)
	r := sample()
	r.Schema = SchemaV1
	_, err = Marshal(r)
	assert.ErrorIs(t, err, ErrSchema)
	r = sample()
	r.Scenarios[0].Verdict = "maybe"
	var buf bytes.Buffer
	assert.ErrorIs(t, Write(&buf, r), ErrInvalid)
	assert.Zero(t, buf.Len(), "nothing is written on error")
}

// FuzzReport: no input makes Read panic or hang, and whatever it accepts
// writes back and reads again to the same result.
func FuzzReport(f *testing.F) {
	good, err := Marshal(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"schema": "wschaos.result/v1", "scenarios": []}`))
	f.Add([]byte(`{"schema": "wschaos.result/v2", "scenarios": [{"name": "x", "verdict": "n/a", "timeline": [{"kind": "ready", "source": "client", "seqs": [1,2]}]}]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := Read(bytes.NewReader(in), ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps none of the documented errors", err)
			}
			return
		}
		out, err := Marshal(res)
		if err != nil {
			// JSON has no NaN: a value Read accepted cannot be NaN, so any
			// error here is a bug.
			t.Fatalf("read back %v", err)
		}
		again, err := Read(bytes.NewReader(out), ReadOptions{})
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if _, err := Marshal(again); err != nil {
			t.Fatal(err)
		}
	})
}
