package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wschaos/wschaos/internal/wait"
	"github.com/wschaos/wschaos/result"
)

// stopTimeout bounds ending a fault. Removing a Toxiproxy toxic flushes the
// data it holds, waiting up to 5 s per chunk its link will not take (a
// client that abandoned the connection), so it can take several seconds; the
// fault's end is recorded when the call returns, whatever it took.
const stopTimeout = 30 * time.Second

// schedule applies a scenario's faults: it arms them, starts those in force
// before the first dial, then the rest at their offsets from warm-up, and
// ends each after its duration. Every fault goroutine has exited when stop
// returns, and every started fault has been stopped, even when the run's
// context ended.
type schedule struct {
	r      *run
	ctx    context.Context // ends with the run or at stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   errorList
}

func newSchedule(ctx context.Context, r *run) *schedule {
	s := &schedule{r: r}
	s.ctx, s.cancel = context.WithCancel(ctx)
	return s
}

// armAndStartInitial arms every fault that needs it before any client
// connects, and starts the faults in force before the first dial.
func (s *schedule) armAndStartInitial(ctx context.Context) error {
	for _, f := range s.r.sc.Faults {
		if f.Arm != nil {
			if err := f.Arm(ctx, s.r.env); err != nil {
				return fmt.Errorf("harness: arm %s: %w", f.Kind, err)
			}
		}
	}
	t0 := time.Now()
	for i, f := range s.r.sc.Faults {
		if !f.Initial {
			continue
		}
		if err := s.start(ctx, i, f); err != nil {
			return err
		}
		s.wg.Go(func() { s.errs.add(s.finish(i, f, t0.Add(f.For))) })
	}
	return nil
}

// applyRest starts every other fault at its offset from warm-up and waits
// until all have ended.
func (s *schedule) applyRest() error {
	s.r.mu.Lock()
	warmAt := s.r.warmAt
	s.r.mu.Unlock()
	for i, f := range s.r.sc.Faults {
		if f.Initial {
			continue
		}
		s.wg.Go(func() {
			if !wait.SleepUntil(s.ctx, warmAt.Add(f.At)) {
				return
			}
			if err := s.start(s.ctx, i, f); err != nil {
				s.errs.add(err)
				return
			}
			s.errs.add(s.finish(i, f, time.Now().Add(f.For)))
		})
	}
	s.wg.Wait()
	return s.errs.err()
}

// stop ends the schedule early (a failed run) and waits for its goroutines.
func (s *schedule) stop() {
	s.cancel()
	s.wg.Wait()
}

func (s *schedule) start(ctx context.Context, i int, f Fault) error {
	r := s.r
	issued := time.Now()
	if err := f.Start(ctx, r.env); err != nil {
		return fmt.Errorf("harness: start %s: %w", f.Kind, err)
	}
	now := time.Now()
	layer := cmp.Or(f.Layer, result.LayerNetwork)
	r.note(now, result.Event{Source: result.SourceHarness, Kind: result.KindFaultStart, Fault: i + 1, Text: f.Kind + ": " + f.Text}, func() {
		r.windows = append(r.windows, result.Fault{Index: i + 1, Kind: f.Kind, Layer: layer, Text: f.Text,
			IssuedMS: r.rec.since(issued), StartMS: r.rec.since(now), EndMS: r.rec.since(now)})
		r.windowOf[i] = len(r.windows) - 1
	})
	return nil
}

// finish ends fault i at until, even when the run's context ended, so no
// toxic outlives the run.
func (s *schedule) finish(i int, f Fault, until time.Time) error {
	if f.Stop == nil {
		return nil
	}
	r := s.r
	wait.SleepUntil(s.ctx, until)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), stopTimeout)
	defer cancel()
	stopAt := time.Now()
	if err := f.Stop(sctx, r.env); err != nil {
		return fmt.Errorf("harness: stop %s: %w", f.Kind, err)
	}
	now := time.Now()
	if took := now.Sub(stopAt); took > time.Second {
		r.harnessNote(fmt.Sprintf("ending %s took %v (Toxiproxy flushing what it held)", f.Kind, took.Round(time.Millisecond)))
	}
	r.note(now, result.Event{Source: result.SourceHarness, Kind: result.KindFaultEnd, Fault: i + 1}, func() {
		if w, ok := r.windowOf[i]; ok {
			r.windows[w].EndMS = r.rec.since(now)
			r.windows[w].StopIssuedMS = r.rec.since(stopAt)
		}
	})
	return nil
}

// faultWindows returns the faults as they took effect, by start.
func (r *run) faultWindows() []result.Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.windows)
	slices.SortStableFunc(out, func(a, b result.Fault) int { return cmp.Compare(a.StartMS, b.StartMS) })
	if out == nil {
		out = []result.Fault{}
	}
	return out
}

type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorList) add(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorList) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}
