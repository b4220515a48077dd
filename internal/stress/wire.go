package stress

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
//
// A chain shard (shard.go) speaks the same way. Its input is one
// ShardConfig line, then commands: {"cmd":"fault","fault":2,"step":"start",
// "planned":{…},"at_ns":…} (apply fault 2's start step at that wall-clock
// time), {"cmd":"drain"} (stop the servers' push) and {"cmd":"stop"}. Its
// output is wire lines as above, with its proxy URLs on "hello"; the fake
// servers' message events on "ev" lines (server source, recv and send
// only, each with its client and sequence number); and a "step" line for
// every fault step it applied:
//
//	{"type":"hello","t":…,"chain":1,"urls":["ws://127.3.4.5:41234/ws",…],"stats":{…}}
//	{"type":"step","t":…,"chain":1,"step":{"fault":2,"step":"start","began_ns":…,"done_ns":…}}

// Wire line types.
const (
	wireHello = "hello"
	wireEvent = "ev"
	wireStats = "stats"
	wireBye   = "bye"
	wireError = "error"
	wireStep  = "step"
)

// Commands.
const (
	cmdDrain = "drain"
	cmdStop  = "stop"
)

type command struct {
	Cmd string `json:"cmd"`
}

// wire is one line from a worker or a chain shard.
type wire struct {
	Type string `json:"type"`
	T    int64  `json:"t"`
	// Ev is the client event of an "ev" line from a worker, or the fake
	// server's message event of one from a chain shard.
	Ev *result.Event `json:"ev,omitempty"`
	// Hello, stats, bye, error.
	Worker  int                      `json:"worker,omitempty"`
	Chain   int                      `json:"chain,omitempty"`
	Ready   int                      `json:"ready,omitempty"`
	Stats   *result.ProcessResources `json:"stats,omitempty"`
	Message string                   `json:"message,omitempty"`
	// URLs are a chain shard's proxies, on its hello.
	URLs []string `json:"urls,omitempty"`
	// Step is a chain shard's account of one fault step.
	Step *stepReport `json:"step,omitempty"`
}

// stepReport is how a chain shard applied one step of one fault: when it
// began (at the time the coordinator asked for, to within the shard's
// scheduling) and when the step had returned, in Unix nanoseconds.
type stepReport struct {
	Fault   int    `json:"fault"`
	Step    string `json:"step"`
	BeganNS int64  `json:"began_ns"`
	DoneNS  int64  `json:"done_ns"`
	Error   string `json:"error,omitempty"`
}

// Who writes the lines decodeWire reads.
type role int

const (
	fromWorker role = iota
	fromShard
)

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

// decodeWire parses one line from a worker or a chain shard. A line that
// is not one JSON object of a known type with the fields that type needs
// is an error wrapping ErrWireLine that says what is wrong and quotes the
// line.
func decodeWire(line []byte, from role) (wire, error) {
	w, ok := parseMessage(line) // see wirefast.go
	if !ok {
		if err := decodeStrict(line, &w); err != nil {
			return wire{}, err
		}
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
	case wireStep:
		if from != fromShard || w.Step == nil || (w.Step.Step != stepStart && w.Step.Step != stepStop) || w.Step.Fault < 1 {
			return bad("a step line comes from a chain shard and says which step of which fault")
		}
	default:
		return bad("unknown type %q (want hello, ev, stats, bye, step or error)", w.Type)
	}
	switch {
	case w.T <= 0:
		return bad("no time")
	case (w.Type == wireEvent) != (w.Ev != nil):
		return bad("an event belongs on an ev line, and every ev line has one")
	case from == fromShard && w.Type == wireHello && (len(w.URLs) == 0 || slices.Contains(w.URLs, "")):
		return bad("a chain shard's hello lists its proxy URLs")
	case w.Ev != nil:
		check := checkEvent
		if from == fromShard {
			check = checkServerEvent
		}
		if err := check(w.Ev); err != "" {
			return bad("%s", err)
		}
	}
	return w, nil
}

// checkServerEvent says what is wrong with a fake server's event from a
// chain shard, or "": only message events are sent.
func checkServerEvent(e *result.Event) string {
	switch {
	case e.Source != result.SourceServer || (e.Kind != result.KindRecv && e.Kind != result.KindSend):
		return fmt.Sprintf("event of source %q and kind %q: want a server recv or send", e.Source, e.Kind)
	case e.TMS != 0:
		return fmt.Sprintf("event with t_ms %g: the shard leaves it 0", e.TMS)
	}
	if _, ok := clientIndex(e.Client); !ok {
		return fmt.Sprintf("event of client %q: want c1, c2, ...", e.Client)
	}
	return ""
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

// clipMiddle shortens s to about n bytes by cutting out its middle: a
// wrapped Go error names what failed at its start and why at its end
// ("failed to WebSocket dial: ... : connection reset by peer"), and both
// are worth keeping.
func clipMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := n / 3
	return s[:head] + "..." + s[len(s)-(n-head):]
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
	lw.unlockAndWake()
}

// unlockAndWake releases lw.mu and, when many lines are waiting, wakes the
// writer (startWriter) to flush them before its next tick.
func (lw *lineWriter) unlockAndWake() {
	big := len(lw.buf) > 256<<10
	lw.mu.Unlock()
	if big {
		select {
		case lw.wake <- struct{}{}:
		default:
		}
	}
}

// sendMessage sends a message event, the most frequent line, without
// encoding/json where it can (see wirefast.go).
func (lw *lineWriter) sendMessage(t time.Time, src result.Source, kind result.Kind, client string, seq uint64) {
	lw.mu.Lock()
	buf, ok := appendMessage(lw.buf, t.UnixNano(), src, kind, client, seq)
	if !ok {
		lw.mu.Unlock()
		lw.send(wire{Type: wireEvent, T: t.UnixNano(), Ev: &result.Event{Source: src, Kind: kind, Client: client, Seq: seq}})
		return
	}
	lw.buf = append(buf, '\n')
	lw.unlockAndWake()
}

// fail sends err as an error line, flushes and returns err.
func (lw *lineWriter) fail(err error) error {
	lw.send(wire{Type: wireError, T: time.Now().UnixNano(), Message: err.Error()})
	_ = lw.flush()
	return err
}

// configError joins a configuration's problems into one error, or nil.
func configError(role string, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stress: %s config: %w", role, err)
	}
	return nil
}

// readConfig reads a worker's or a chain shard's first input line into a
// T, strictly, and validates it; an error is also reported on lw. It
// returns the scanner positioned after the line, for the commands.
func readConfig[T interface{ validate() error }](role string, in io.Reader, lw *lineWriter) (cfg T, sc *bufio.Scanner, err error) {
	sc = bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return cfg, nil, lw.fail(fmt.Errorf("stress: %s: no config line on input: %v", role, sc.Err()))
	}
	if err := decodeStrict(sc.Bytes(), &cfg); err != nil {
		return cfg, nil, lw.fail(fmt.Errorf("stress: %s: config line: %w", role, err))
	}
	if err := cfg.validate(); err != nil {
		return cfg, nil, lw.fail(err)
	}
	return cfg, sc, nil
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
