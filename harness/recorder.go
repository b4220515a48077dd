package harness

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/wschaos/wschaos/result"
)

// recorder collects every component's events on one monotonic clock. The
// time origin is fixed at construction; all methods are safe for concurrent
// use.
type recorder struct {
	origin time.Time

	mu     sync.Mutex
	events []result.Event
}

func newRecorder() *recorder {
	return &recorder{origin: time.Now()}
}

// since converts a wall-clock reading (which carries Go's monotonic reading)
// to milliseconds since the origin.
func (r *recorder) since(t time.Time) float64 {
	return float64(t.Sub(r.origin)) / float64(time.Millisecond)
}

func (r *recorder) now() float64 { return r.since(time.Now()) }

// at is the inverse of since: the moment tms ms after the origin.
func (r *recorder) at(tms float64) time.Time {
	return r.origin.Add(time.Duration(tms * float64(time.Millisecond)))
}

func (r *recorder) add(at time.Time, e result.Event) {
	e.TMS = r.since(at)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// snapshot returns the events so far, ordered by time. Events from different
// goroutines may be appended slightly out of order; the sort is stable so
// events with equal times keep their arrival order.
func (r *recorder) snapshot() []result.Event {
	r.mu.Lock()
	out := slices.Clone(r.events)
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b result.Event) int { return cmp.Compare(a.TMS, b.TMS) })
	return out
}
