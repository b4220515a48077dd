package main

import (
	"context"
	"sync"
)

// weighted is a counting semaphore whose holders take several slots.
type weighted struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int
}

func newWeighted(n int) *weighted {
	w := &weighted{free: n}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// acquire takes n slots, or gives up when ctx ends.
func (w *weighted) acquire(ctx context.Context, n int) bool {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.free < n {
		if ctx.Err() != nil {
			return false
		}
		w.cond.Wait()
	}
	w.free -= n
	return true
}

func (w *weighted) release(n int) {
	w.mu.Lock()
	w.free += n
	w.cond.Broadcast()
	w.mu.Unlock()
}
