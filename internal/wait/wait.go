// Package wait holds the two ways a run waits: for a moment (Sleep,
// SleepUntil) and for a condition on shared state (Cond). The harness's
// runner and the stress coordinator both wait for every client to be warm,
// ready again or drained, and for a fault's time to come; they do it with
// this package so that the two cannot drift apart.
package wait

import (
	"context"
	"sync"
	"time"
)

// SleepUntil waits for t or the end of ctx; it reports whether t was
// reached. A moment already past returns at once, true unless ctx has
// ended.
func SleepUntil(ctx context.Context, t time.Time) bool { return Sleep(ctx, time.Until(t)) }

// Sleep waits for d or the end of ctx; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
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

// Cond lets goroutines wait for a condition on state that others change,
// with a deadline and a context, which sync.Cond has neither of. The state
// is guarded by the Locker given to NewCond; whoever changes it calls
// Changed with that lock held.
type Cond struct {
	l sync.Locker
	// ch is closed by Changed to wake the waiters; nil while nobody waits,
	// so that Changed costs nothing on a hot path with no waiter.
	ch chan struct{}
}

// NewCond returns a Cond for state guarded by l.
func NewCond(l sync.Locker) *Cond { return &Cond{l: l} }

// Changed wakes every waiter to check its condition again. Call it with
// the lock held, after changing the state.
func (c *Cond) Changed() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// Wait blocks until cond holds, ctx ends or the deadline passes, and
// reports whether cond held. cond is called with the lock held: at once,
// after every Changed and, when poll is above 0, at least every poll (for
// state that changes without a call to Changed: another lock's, say). At
// the deadline it is checked once more, so a deadline already past checks
// it once.
func (c *Cond) Wait(ctx context.Context, deadline time.Time, poll time.Duration, cond func() bool) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		c.l.Lock()
		ok := cond()
		if !ok && c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		c.l.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-tick:
		case <-timer.C:
			c.l.Lock()
			defer c.l.Unlock()
			return cond()
		case <-ctx.Done():
			return false
		}
	}
}
