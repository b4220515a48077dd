package stress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/wschaos/wschaos/result"
)

// The worker protocol: JSON lines, one object a line, both ways. Every line
// is decoded strictly: a field the receiver does not know, a value of the
// wrong type, or anything after the object is an error, never a guess.
//
// Coordinator to worker (the worker's stdin): one WorkerConfig line, then
// commands, each {"cmd":"drain"} (stop sending, keep the clients running)
// or {"cmd":"stop"} (stop every client and exit). End of input means stop.
//
// Worker to coordinator (the worker's stdout): wire lines, each with a
// "type" and "t", the worker's wall clock in Unix nanoseconds:
//
//	{"type":"hello","t":…,"worker":1,"stats":{…}}
//	{"type":"ev","t":…,"ev":{"t_ms":0,"source":"client","kind":"disconnected","client":"c12","conn":3,"cause":"read-error","code":1006,…}}
//	{"type":"stats","t":…,"worker":1,"ready":2500,"stats":{…}}
//	{"type":"bye","t":…,"worker":1,"ready":0,"stats":{…}}
//	{"type":"error","t":…,"message":"…"}
//
// An "ev" line carries one client event as the result records it
// (harness.ClientEvent, and the workload's sent, received and send-error),
// every figure in its typed field; its t_ms is 0 on the wire, as only the
// coordinator knows the run's time origin, and it sets t_ms from "t".
// "stats" comes every second and "bye", last, with the final figures.

// Wire line types.
const (
	wireHello = "hello"
	wireEvent = "ev"
	wireStats = "stats"
	wireBye   = "bye"
	wireError = "error"
)

// Commands.
const (
	cmdDrain = "drain"
	cmdStop  = "stop"
)

type command struct {
	Cmd string `json:"cmd"`
}

// wire is one line from a worker.
type wire struct {
	Type string `json:"type"`
	T    int64  `json:"t"`
	// Ev is the client event of an "ev" line.
	Ev *result.Event `json:"ev,omitempty"`
	// Hello, stats, bye, error.
	Worker  int                      `json:"worker,omitempty"`
	Ready   int                      `json:"ready,omitempty"`
	Stats   *result.ProcessResources `json:"stats,omitempty"`
	Message string                   `json:"message,omitempty"`
}

// ErrWireLine is wrapped by every error decodeWire and decodeStrict return.
var ErrWireLine = errors.New("stress: bad worker line")

// decodeStrict decodes line into v: exactly one JSON object with no field
// v does not have. It never panics; errors wrap ErrWireLine and quote the
// start of the line.
func decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("more after the object")
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %v: %q", ErrWireLine, err, clip(string(line), 120))
	}
	return nil
}

// decodeWire parses one line from a worker. A line that is not one JSON
// object of a known type with the fields that type needs is an error
// wrapping ErrWireLine that says what is wrong and quotes the line.
func decodeWire(line []byte) (wire, error) {
	var w wire
	if err := decodeStrict(line, &w); err != nil {
		return wire{}, err
	}
	bad := func(format string, args ...any) (wire, error) {
		return wire{}, fmt.Errorf("%w: %s: %q", ErrWireLine, fmt.Sprintf(format, args...), clip(string(line), 120))
	}
	switch w.Type {
	case wireHello, wireStats, wireBye:
		if w.Stats == nil {
			return bad("%s without stats", w.Type)
		}
	case wireError:
		if w.Message == "" {
			return bad("error without a message")
		}
	case wireEvent:
	default:
		return bad("unknown type %q (want hello, ev, stats, bye or error)", w.Type)
	}
	switch {
	case w.T <= 0:
		return bad("no time")
	case (w.Type == wireEvent) != (w.Ev != nil):
		return bad("an event belongs on an ev line, and every ev line has one")
	case w.Ev != nil:
		if err := checkEvent(w.Ev); err != "" {
			return bad("%s", err)
		}
	}
	return w, nil
}

// checkEvent says what is wrong with a client event from the wire, or "".
func checkEvent(e *result.Event) string {
	switch {
	case e.Source != result.SourceClient || e.Kind.Source() != result.SourceClient:
		return fmt.Sprintf("event of source %q and kind %q: want a client kind of the %s vocabulary", e.Source, e.Kind, result.Schema)
	case e.TMS != 0:
		return fmt.Sprintf("event with t_ms %g: the worker leaves it 0", e.TMS)
	}
	if _, ok := clientIndex(e.Client); !ok {
		return fmt.Sprintf("event of client %q: want c1, c2, ...", e.Client)
	}
	return ""
}

// clientIndex is the index of a client id, c1 -> 1. Only the ids the run
// gives out are accepted: "c" and a number from 1 without a sign or a
// leading zero.
func clientIndex(id string) (int, bool) {
	digits, ok := strings.CutPrefix(id, "c")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 1 || strconv.Itoa(i) != digits {
		return 0, false
	}
	return i, true
}

func clientID(i int) string { return "c" + strconv.Itoa(i) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// lineWriter buffers encoded lines from many goroutines and writes them out
// from one, so a client callback never blocks on the pipe. The buffer is
// unbounded: the coordinator reads as fast as the lines come.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	err  error
	out  io.Writer
	wake chan struct{}
}

func newLineWriter(out io.Writer) *lineWriter {
	return &lineWriter{out: out, wake: make(chan struct{}, 1)}
}

func (lw *lineWriter) send(w wire) {
	b, err := json.Marshal(w)
	if err != nil {
		return // only non-finite floats; none are sent
	}
	lw.mu.Lock()
	lw.buf = append(append(lw.buf, b...), '\n')
	big := len(lw.buf) > 256<<10
	lw.mu.Unlock()
	if big {
		select {
		case lw.wake <- struct{}{}:
		default:
		}
	}
}

// flush writes what is buffered; it reports the first write error.
func (lw *lineWriter) flush() error {
	lw.mu.Lock()
	b := lw.buf
	lw.buf = nil
	lw.mu.Unlock()
	if len(b) == 0 {
		return lw.err
	}
	if lw.err == nil {
		_, lw.err = lw.out.Write(b)
	}
	return lw.err
}
