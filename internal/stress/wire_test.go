package stress

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

func TestDecodeWire(t *testing.T) {
	good := `{"type":"ev","t":123,"ev":{"t_ms":0,"source":"client","kind":"disconnected","client":"c4","conn":2,"cause":"close-frame","class":"retry","code":1012,"reason":"service restart","attempt":1}}`
	w, err := decodeWire([]byte(good), fromWorker)
	require.NoError(t, err)
	assert.Equal(t, wire{Type: wireEvent, T: 123, Ev: &result.Event{Source: result.SourceClient, Kind: result.KindDisconnected, Client: "c4", Conn: 2,
		Cause: result.CauseCloseFrame, Class: result.ClassRetry, Code: 1012, Reason: "service restart", Attempt: 1}}, w)
	_, err = decodeWire([]byte(`{"type":"bye","t":9,"worker":1,"stats":{"process":"worker 1"}}`), fromWorker)
	require.NoError(t, err)

	for name, line := range map[string]string{
		"empty":            ``,
		"not json":         `hello world`,
		"null":             `null`,
		"truncated":        `{"type":"ev","t":1795699480534`,
		"array":            `[1,2,3]`,
		"two objects":      `{"type":"error","t":1,"message":"x"}{"type":"error","t":1,"message":"x"}`,
		"trailing":         `{"type":"error","t":1,"message":"x"} 7`,
		"unknown type":     `{"type":"party","t":1}`,
		"no type":          `{"t":1}`,
		"unknown field":    `{"type":"error","t":1,"message":"x","detail":"cause=heartbeat"}`,
		"event field":      `{"type":"ev","t":1,"ev":{"source":"client","kind":"ready","client":"c1","detail":"x"}}`,
		"no time":          `{"type":"ev","ev":{"source":"client","kind":"ready","client":"c1"}}`,
		"event no event":   `{"type":"ev","t":1}`,
		"stats with event": `{"type":"stats","t":1,"stats":{},"ev":{"source":"client","kind":"ready","client":"c1"}}`,
		"event no kind":    `{"type":"ev","t":1,"ev":{"source":"client","client":"c3"}}`,
		"unknown kind":     `{"type":"ev","t":1,"ev":{"source":"client","kind":"reconnected","client":"c3"}}`,
		"server kind":      `{"type":"ev","t":1,"ev":{"source":"server","kind":"recv","client":"c3"}}`,
		"wrong source":     `{"type":"ev","t":1,"ev":{"source":"server","kind":"ready","client":"c3"}}`,
		"event no client":  `{"type":"ev","t":1,"ev":{"source":"client","kind":"ready"}}`,
		"client c0":        `{"type":"ev","t":1,"ev":{"source":"client","kind":"ready","client":"c0"}}`,
		"client c01":       `{"type":"ev","t":1,"ev":{"source":"client","kind":"ready","client":"c01"}}`,
		"client x1":        `{"type":"ev","t":1,"ev":{"source":"client","kind":"ready","client":"x1"}}`,
		"client c+1":       `{"type":"ev","t":1,"ev":{"source":"client","kind":"ready","client":"c+1"}}`,
		"event with t_ms":  `{"type":"ev","t":1,"ev":{"t_ms":5,"source":"client","kind":"ready","client":"c1"}}`,
		"stats no stats":   `{"type":"stats","t":1}`,
		"error no message": `{"type":"error","t":1}`,
		"wrong types":      `{"type":"ev","t":"soon","ev":{"kind":7}}`,
		"code as text":     `{"type":"ev","t":1,"ev":{"source":"client","kind":"disconnected","client":"c1","code":"1006"}}`,
		"binary":           "\x00\xff\xfe{",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeWire([]byte(line), fromWorker)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrWireLine), "got %v, want it to wrap ErrWireLine", err)
		})
	}
}

func FuzzDecodeWire(f *testing.F) {
	f.Add([]byte(`{"type":"ev","t":123,"ev":{"t_ms":0,"source":"client","kind":"ready","client":"c4"}}`))
	f.Add([]byte(`{"type":"bye","t":1,"stats":{"process":"worker 1"}}`))
	f.Add([]byte(`{"type":"error","t":1,"message":"boom"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		w, err := decodeWire(line, fromWorker)
		if err != nil {
			return
		}
		if w.Type == "" || w.T <= 0 {
			t.Fatalf("accepted a line without a type or time: %q", line)
		}
		if w.Ev != nil {
			if _, ok := clientIndex(w.Ev.Client); !ok || w.Ev.Kind.Source() != result.SourceClient {
				t.Fatalf("accepted an event the coordinator cannot place: %q", line)
			}
		}
	})
}

func TestClientIndex(t *testing.T) {
	for id, want := range map[string]int{"c1": 1, "c42": 42, "c5000": 5000} {
		got, ok := clientIndex(id)
		assert.True(t, ok, id)
		assert.Equal(t, want, got, id)
		assert.Equal(t, id, clientID(got))
	}
	for _, id := range []string{"", "c", "c0", "c-1", "c+1", "c01", "C1", "1", "c1 ", "c1x", "c99999999999999999999"} {
		_, ok := clientIndex(id)
		assert.False(t, ok, "%q", id)
	}
}

// TestEventOverTheWire: a client event crosses the worker protocol with
// every typed field as harness.ClientEvent made it, and the coordinator
// puts it on its clock.
func TestEventOverTheWire(t *testing.T) {
	var out bytes.Buffer
	w := &worker{cfg: WorkerConfig{Worker: 1, First: 3, Count: 2}, lw: newLineWriter(&out), ready: map[int]bool{}}
	at := time.Now()
	evs := []client.Event{
		{Time: at, Kind: client.EventDisconnected, Conn: 7, Attempt: 2, Cause: client.CauseCloseFrame, Class: client.ClassRetry,
			Code: 1012, Reason: "service restart " + strings.Repeat("x", 200)},
		{Time: at, Kind: client.EventBackoff, Attempt: 2, Cause: client.CauseHTTPStatus, Status: 503, NextDelay: 1500 * time.Millisecond, Hint: time.Second},
		{Time: at, Kind: client.EventGap, Conn: 8, Gap: 4},
		{Time: at, Kind: client.EventPong, Conn: 8},
	}
	for _, ev := range evs {
		w.onEvent(4, ev)
	}
	require.NoError(t, w.lw.flush())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, "pings and pongs are not sent")
	c := newCoord(Options{Clients: 4}, Schedule{})
	wp := &proc{name: "worker 1"}
	for i, line := range lines {
		assert.NotContains(t, line, "detail")
		wl, err := decodeWire([]byte(line), fromWorker)
		require.NoError(t, err, line)
		require.NoError(t, c.onWire(wp, w.cfg, wl))
		want := h.ClientEvent("c4", evs[i])
		want.Reason = clipMiddle(want.Reason, 120)
		got := c.clients[3].events[i]
		assert.InDelta(t, c.tms(at.UnixNano()), got.TMS, 1e-6)
		got.TMS = 0
		assert.Equal(t, want, got)
	}
	assert.EqualValues(t, 4, c.clients[3].events[2].Count, "a gap's size is a typed count")

	// A client of another worker is a broken worker.
	var other bytes.Buffer
	lw := newLineWriter(&other)
	lw.send(wire{Type: wireEvent, T: at.UnixNano(), Ev: &result.Event{Source: result.SourceClient, Kind: result.KindReady, Client: "c1"}})
	require.NoError(t, lw.flush())
	wl, err := decodeWire(bytes.TrimSpace(other.Bytes()), fromWorker)
	require.NoError(t, err)
	err = c.onWire(wp, w.cfg, wl)
	require.ErrorIs(t, err, ErrWireLine)
	assert.Contains(t, err.Error(), "not one of worker 1's (c3..c4)")
}

// TestWorkerCommands: a command the worker does not know is reported, not
// obeyed or ignored in silence.
func TestWorkerCommands(t *testing.T) {
	var out bytes.Buffer
	w := &worker{lw: newLineWriter(&out), ready: map[int]bool{}}
	drained := false
	in := strings.Join([]string{`{"cmd":"dance"}`, `{"cmd":"drain","now":true}`, `go`, `{"cmd":"drain"}`, `{"cmd":"stop"}`, `{"cmd":"drain"}`}, "\n")
	w.readCommands(bufioScanner(in), func() { drained = true })
	require.NoError(t, w.lw.flush())
	assert.True(t, drained)
	var errs []string
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		wl, err := decodeWire([]byte(line), fromWorker)
		require.NoError(t, err)
		assert.Equal(t, wireError, wl.Type)
		errs = append(errs, wl.Message)
	}
	require.Len(t, errs, 3)
	assert.Contains(t, errs[0], `unknown command "dance"`)
}

func TestWireLinesAreCompact(t *testing.T) {
	b, err := json.Marshal(wire{Type: wireEvent, T: 1, Ev: &result.Event{Source: result.SourceClient, Kind: result.KindSent, Client: "c1", Seq: 9}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"ev","t":1,"ev":{"t_ms":0,"source":"client","kind":"sent","client":"c1","seq":9}}`, string(b))
}

func bufioScanner(s string) *bufio.Scanner { return bufio.NewScanner(strings.NewReader(s)) }
