package stress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/wait"
	"github.com/wschaos/wschaos/result"
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
	return configError("worker", errs)
}

// worker is one worker's state: its clients' readiness, for the stats
// lines, and the writer every line goes through.
type worker struct {
	cfg WorkerConfig
	lw  *lineWriter

	mu    sync.Mutex
	ready map[int]bool
}

// RunWorker runs one worker: it reads a WorkerConfig line from in, runs the
// clients it names with the stress workload, and streams their events to out
// as JSON lines until in says stop or ends, or ctx ends. It returns after
// every client has stopped and the last line ("bye") is written.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	lw := newLineWriter(out)
	cfg, sc, err := readConfig[WorkerConfig]("worker", in, lw)
	if err != nil {
		return err
	}
	w := &worker{cfg: cfg, lw: lw, ready: map[int]bool{}}
	smp := startSampler("worker "+strconv.Itoa(cfg.Worker), cfg.Count, 500*time.Millisecond)
	defer smp.Close()
	clients, err := w.newClients()
	if err != nil {
		return lw.fail(err)
	}
	lw.send(wire{Type: wireHello, T: time.Now().UnixNano(), Worker: cfg.Worker, Stats: ptrTo(smp.Snapshot())})

	runCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	workCtx, stopWork := context.WithCancel(runCtx)
	defer stopWork()
	var commands sync.WaitGroup
	commands.Go(func() {
		defer stopClients()
		w.readCommands(sc, stopWork)
	})
	stopWriter := startWriter(lw, func() wire {
		return wire{Type: wireStats, T: time.Now().UnixNano(), Worker: cfg.Worker, Ready: w.readyNow(), Stats: ptrTo(smp.Snapshot())}
	}, stopClients)
	w.runClients(runCtx, workCtx, clients)
	stopClients()
	stopWriter()
	lw.send(wire{Type: wireBye, T: time.Now().UnixNano(), Worker: cfg.Worker, Ready: w.readyNow(), Stats: ptrTo(smp.Final())})
	err = lw.flush()
	// The command reader ends when the coordinator closes our input; a
	// worker process exits without waiting for it.
	if closer, ok := in.(io.Closer); ok {
		_ = closer.Close()
	}
	commands.Wait()
	return err
}

// newClients makes the worker's clients, each reporting its events as
// wire lines.
func (w *worker) newClients() ([]*client.Client, error) {
	profile := Profile(w.cfg.Timescale)
	clients := make([]*client.Client, w.cfg.Count)
	for i := range clients {
		idx := w.cfg.First + i
		id := clientID(idx)
		o := profile
		o.ClientID = id
		o.Rand = rand.New(rand.NewPCG(uint64(w.cfg.Seed), uint64(idx)))
		o.OnEvent = func(ev client.Event) { w.onEvent(idx, ev) }
		o.OnMessage = func(m client.Message) {
			w.lw.sendMessage(time.Now(), result.SourceClient, result.KindReceived, id, m.Seq)
		}
		c, err := client.New(w.cfg.URLs[(idx-1)%len(w.cfg.URLs)], o)
		if err != nil {
			return nil, fmt.Errorf("stress: worker: client %d: %w", idx, err)
		}
		clients[i] = c
	}
	return clients, nil
}

// onEvent sends a client's event as the result records it. Pings and pongs
// are not sent: nothing in the stress figures reads them (detection counts
// from the fault; see Bounds), and a quiet fleet would send little else.
func (w *worker) onEvent(idx int, ev client.Event) {
	switch ev.Kind {
	case client.EventPing, client.EventPong:
		return
	case client.EventReady:
		w.mu.Lock()
		w.ready[idx] = true
		w.mu.Unlock()
	case client.EventDisconnected, client.EventFatal, client.EventStopped:
		w.mu.Lock()
		delete(w.ready, idx)
		w.mu.Unlock()
	}
	e := h.ClientEvent(clientID(idx), ev)
	e.Reason = clipMiddle(e.Reason, 120)
	w.event(ev.Time, e)
}

// event sends e, which happened at t, as an "ev" line.
func (w *worker) event(t time.Time, e result.Event) {
	if t.IsZero() {
		t = time.Now()
	}
	w.lw.send(wire{Type: wireEvent, T: t.UnixNano(), Ev: &e})
}

func (w *worker) readyNow() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ready)
}

// readCommands obeys the coordinator's commands until stop or the end of
// input. A line that is not a command is reported and skipped.
func (w *worker) readCommands(sc *bufio.Scanner, stopWork context.CancelFunc) {
	for sc.Scan() {
		var c command
		err := decodeStrict(sc.Bytes(), &c)
		switch {
		case err != nil:
		case c.Cmd == cmdDrain:
			stopWork()
			continue
		case c.Cmd == cmdStop:
			return
		default:
			err = fmt.Errorf("unknown command %q (want %s or %s)", c.Cmd, cmdDrain, cmdStop)
		}
		w.lw.send(wire{Type: wireError, T: time.Now().UnixNano(), Message: fmt.Sprintf("stress: worker: bad command: %v", err)})
	}
}

// startWriter flushes lw's lines every 25 ms (or when many are waiting)
// and sends the stats line every second, until the returned function is
// called. A write that fails means the coordinator is gone: onGone is
// called.
func startWriter(lw *lineWriter, stats func() wire, onGone func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		flush := time.NewTicker(25 * time.Millisecond)
		statsT := time.NewTicker(time.Second)
		defer flush.Stop()
		defer statsT.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-lw.wake:
			case <-flush.C:
			case <-statsT.C:
				lw.send(stats())
			}
			if lw.flush() != nil {
				onGone()
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// runClients starts the clients over the ramp, each with its workload, and
// returns when every one has stopped.
func (w *worker) runClients(runCtx, workCtx context.Context, clients []*client.Client) {
	send := time.Duration(float64(baseSend) * w.cfg.Timescale)
	var wg sync.WaitGroup
	for i, c := range clients {
		idx := w.cfg.First + i
		startAt := time.Duration(float64(i) / float64(w.cfg.Count) * w.cfg.RampMS * float64(time.Millisecond))
		phase := rand.New(rand.NewPCG(uint64(w.cfg.Seed), uint64(idx)^0xfeed))
		wg.Go(func() {
			if !wait.Sleep(runCtx, startAt) {
				return
			}
			var work sync.WaitGroup
			work.Go(func() { w.workload(workCtx, idx, c, send, time.Duration(phase.Int64N(int64(send)))) })
			_ = c.Run(runCtx)
			work.Wait()
		})
	}
	wg.Wait()
}

// workload sends a sequenced message every `every`, the first after phase,
// until ctx ends.
func (w *worker) workload(ctx context.Context, idx int, c *client.Client, every, phase time.Duration) {
	if !wait.Sleep(ctx, phase) {
		return
	}
	id := clientID(idx)
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		seq, err := c.Send(ctx, id+"-m"+strconv.Itoa(n))
		if err == nil {
			w.lw.sendMessage(time.Now(), result.SourceClient, result.KindSent, id, seq)
		} else if ctx.Err() == nil && !errors.Is(err, client.ErrStopped) {
			w.event(time.Now(), result.Event{Source: result.SourceClient, Kind: result.KindSendError, Client: id, Text: clipMiddle(err.Error(), 120)})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
