package stress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
)

// The worker protocol: JSON lines.
//
// Coordinator to worker (the worker's stdin): one WorkerConfig line, then
// commands, each {"cmd": "drain"} (stop sending, keep the clients running)
// or {"cmd": "stop"} (stop every client and exit). End of input means stop.
//
// Worker to coordinator (the worker's stdout): wire lines, each with a
// "type": "hello" first, then "ev" (one client event), "stats" (resource use,
// every second) and finally "bye" with the final stats, or "error". Times
// are Unix nanoseconds from the worker's wall clock.

// Wire line types.
const (
	wireHello = "hello"
	wireEvent = "ev"
	wireStats = "stats"
	wireBye   = "bye"
	wireError = "error"
)

// Kinds of "ev" lines besides the client's own event kinds.
const (
	evSent     = "sent"     // the workload handed message Seq to the client
	evReceived = "received" // the client delivered server message Seq
)

// WorkerConfig is the first line a worker reads.
type WorkerConfig struct {
	Worker int `json:"worker"`
	// URLs are the proxies to dial: client i dials URLs[(i-1) % len(URLs)].
	URLs []string `json:"urls"`
	// First is the global index of the worker's first client: its clients
	// are c<First> .. c<First+Count-1>, and client i draws its jitter from
	// PCG(Seed, i), whichever worker runs it.
	First     int     `json:"first"`
	Count     int     `json:"count"`
	Seed      int64   `json:"seed"`
	Timescale float64 `json:"timescale"`
	// RampMS spreads the clients' first dials over this many ms.
	RampMS float64 `json:"ramp_ms"`
}

func (c WorkerConfig) validate() error {
	var errs []error
	if len(c.URLs) == 0 || slices.Contains(c.URLs, "") {
		errs = append(errs, errors.New("urls: want one or more proxy URLs"))
	}
	if c.First < 1 || c.Count < 1 {
		errs = append(errs, fmt.Errorf("first %d and count %d must both be 1 or more", c.First, c.Count))
	}
	if c.Timescale <= 0 {
		errs = append(errs, fmt.Errorf("timescale %g must be above 0", c.Timescale))
	}
	if c.RampMS < 0 {
		errs = append(errs, fmt.Errorf("ramp_ms %g must be 0 or more", c.RampMS))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stress: worker config: %w", err)
	}
	return nil
}

type command struct {
	Cmd string `json:"cmd"`
}

// wire is one line from a worker.
type wire struct {
	Type string `json:"type"`
	T    int64  `json:"t,omitempty"`
	// Event fields ("ev"). C is the client's global index.
	C       int     `json:"c,omitempty"`
	Kind    string  `json:"k,omitempty"`
	Conn    uint64  `json:"conn,omitempty"`
	Code    int     `json:"code,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Attempt int     `json:"attempt,omitempty"`
	DelayMS float64 `json:"delay_ms,omitempty"`
	HintMS  float64 `json:"hint_ms,omitempty"`
	Seq     uint64  `json:"seq,omitempty"`
	Detail  string  `json:"detail,omitempty"`
	// Hello, stats, bye, error.
	Worker  int        `json:"worker,omitempty"`
	Ready   int        `json:"ready,omitempty"`
	Stats   *Resources `json:"stats,omitempty"`
	Message string     `json:"message,omitempty"`
}

// ErrWireLine is wrapped by every error decodeWire returns.
var ErrWireLine = errors.New("stress: bad worker line")

var knownWire = map[string]bool{wireHello: true, wireEvent: true, wireStats: true, wireBye: true, wireError: true}

// decodeWire parses one line from a worker. It never panics; a line that is
// not one JSON object of a known type, or an event without a client or
// kind, is an error wrapping ErrWireLine that quotes the start of the line.
func decodeWire(line []byte) (wire, error) {
	var w wire
	if err := json.Unmarshal(line, &w); err != nil {
		return wire{}, fmt.Errorf("%w: %v: %q", ErrWireLine, err, clip(string(line), 120))
	}
	switch {
	case !knownWire[w.Type]:
		return wire{}, fmt.Errorf("%w: unknown type %q (want hello, ev, stats, bye or error): %q", ErrWireLine, w.Type, clip(string(line), 120))
	case w.Type == wireEvent && (w.C < 1 || w.Kind == "" || w.T == 0):
		return wire{}, fmt.Errorf("%w: event without a client, kind or time: %q", ErrWireLine, clip(string(line), 120))
	case (w.Type == wireStats || w.Type == wireBye) && w.Stats == nil:
		return wire{}, fmt.Errorf("%w: %s without stats: %q", ErrWireLine, w.Type, clip(string(line), 120))
	}
	return w, nil
}

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

// RunWorker runs one worker: it reads a WorkerConfig line from in, runs the
// clients it names with the stress workload, and streams their events to out
// as JSON lines until in says stop or ends, or ctx ends. It returns after
// every client has stopped and the last line ("bye") is written.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	lw := &lineWriter{out: out, wake: make(chan struct{}, 1)}
	fail := func(err error) error {
		lw.send(wire{Type: wireError, T: time.Now().UnixNano(), Message: err.Error()})
		_ = lw.flush()
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return fail(fmt.Errorf("stress: worker: no config line on input: %v", sc.Err()))
	}
	var cfg WorkerConfig
	if err := json.Unmarshal(sc.Bytes(), &cfg); err != nil {
		return fail(fmt.Errorf("stress: worker: config line: %w", err))
	}
	if err := cfg.validate(); err != nil {
		return fail(err)
	}
	name := "worker " + strconv.Itoa(cfg.Worker)
	smp := startSampler(name, cfg.Count, 500*time.Millisecond)
	defer smp.Close()

	profile := Profile(cfg.Timescale)
	clients := make([]*client.Client, cfg.Count)
	var readyMu sync.Mutex
	ready := map[int]bool{}
	for i := range clients {
		idx := cfg.First + i
		o := profile
		o.ClientID = "c" + strconv.Itoa(idx)
		o.Rand = rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(idx)))
		o.OnEvent = func(ev client.Event) {
			switch ev.Kind {
			case client.EventPing, client.EventPong:
				return
			case client.EventReady:
				readyMu.Lock()
				ready[idx] = true
				readyMu.Unlock()
			case client.EventDisconnected, client.EventFatal, client.EventStopped:
				readyMu.Lock()
				delete(ready, idx)
				readyMu.Unlock()
			}
			lw.send(eventWire(idx, ev))
		}
		o.OnMessage = func(m client.Message) {
			lw.send(wire{Type: wireEvent, T: time.Now().UnixNano(), C: idx, Kind: evReceived, Seq: m.Seq})
		}
		c, err := client.New(cfg.URLs[(idx-1)%len(cfg.URLs)], o)
		if err != nil {
			return fail(fmt.Errorf("stress: worker: client %d: %w", idx, err))
		}
		clients[i] = c
	}
	lw.send(wire{Type: wireHello, T: time.Now().UnixNano(), Worker: cfg.Worker, Stats: ptrTo(smp.Snapshot())})

	runCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	workCtx, stopWork := context.WithCancel(runCtx)
	defer stopWork()

	// Commands.
	var bg sync.WaitGroup
	bg.Go(func() {
		defer stopClients()
		for sc.Scan() {
			var c command
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				lw.send(wire{Type: wireError, T: time.Now().UnixNano(), Message: fmt.Sprintf("stress: worker: bad command %q: %v", clip(sc.Text(), 80), err)})
				continue
			}
			switch c.Cmd {
			case "drain":
				stopWork()
			case "stop":
				return
			}
		}
	})

	// The writer and the stats.
	writeCtx, stopWriter := context.WithCancel(context.Background())
	var writer sync.WaitGroup
	writer.Go(func() {
		flush := time.NewTicker(25 * time.Millisecond)
		stats := time.NewTicker(time.Second)
		defer flush.Stop()
		defer stats.Stop()
		for {
			select {
			case <-writeCtx.Done():
				return
			case <-lw.wake:
			case <-flush.C:
			case <-stats.C:
				readyMu.Lock()
				n := len(ready)
				readyMu.Unlock()
				lw.send(wire{Type: wireStats, T: time.Now().UnixNano(), Worker: cfg.Worker, Ready: n, Stats: ptrTo(smp.Snapshot())})
			}
			if lw.flush() != nil {
				stopClients() // the coordinator is gone
			}
		}
	})

	// Clients, started over the ramp, and their workload.
	send := time.Duration(float64(baseSend) * cfg.Timescale)
	var wg sync.WaitGroup
	for i, c := range clients {
		idx := cfg.First + i
		startAt := time.Duration(float64(i) / float64(cfg.Count) * cfg.RampMS * float64(time.Millisecond))
		phase := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(idx)^0xfeed))
		wg.Go(func() {
			if !sleepFor(runCtx, startAt) {
				return
			}
			var work sync.WaitGroup
			work.Go(func() { workload(workCtx, idx, c, send, time.Duration(phase.Int64N(int64(send))), lw) })
			_ = c.Run(runCtx)
			work.Wait()
		})
	}
	wg.Wait()
	stopClients()
	stopWriter()
	writer.Wait()
	readyMu.Lock()
	n := len(ready)
	readyMu.Unlock()
	lw.send(wire{Type: wireBye, T: time.Now().UnixNano(), Worker: cfg.Worker, Ready: n, Stats: ptrTo(smp.Snapshot())})
	err := lw.flush()
	// The command reader ends when the coordinator closes our input; a
	// worker process exits without waiting for it.
	if closer, ok := in.(io.Closer); ok {
		_ = closer.Close()
	}
	bg.Wait()
	return err
}

func ptrTo[T any](v T) *T { return &v }

func eventWire(idx int, ev client.Event) wire {
	w := wire{Type: wireEvent, T: ev.Time.UnixNano(), C: idx, Kind: string(ev.Kind), Conn: ev.Conn,
		Code: ev.Code, Attempt: ev.Attempt, DelayMS: msOf(ev.NextDelay), HintMS: msOf(ev.Hint)}
	if ev.Cause != "" {
		w.Detail = "cause=" + ev.Cause
	}
	if ev.Kind == client.EventGap {
		w.Seq = ev.Gap
	}
	if ev.Kind == client.EventFatal || ev.Kind == client.EventDisconnected {
		w.Reason = clip(ev.Reason, 80)
	}
	if w.T == 0 {
		w.T = time.Now().UnixNano()
	}
	return w
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// workload sends a sequenced message every `every`, the first after phase,
// until ctx ends.
func workload(ctx context.Context, idx int, c *client.Client, every, phase time.Duration, lw *lineWriter) {
	if !sleepFor(ctx, phase) {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		seq, err := c.Send(ctx, "c"+strconv.Itoa(idx)+"-m"+strconv.Itoa(n))
		if err == nil {
			lw.send(wire{Type: wireEvent, T: time.Now().UnixNano(), C: idx, Kind: evSent, Seq: seq})
		} else if ctx.Err() == nil && !errors.Is(err, client.ErrStopped) {
			lw.send(wire{Type: wireEvent, T: time.Now().UnixNano(), C: idx, Kind: "send-error", Detail: clip(err.Error(), 80)})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sleepFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
