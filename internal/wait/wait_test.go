package wait

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSleep(t *testing.T) {
	assert.True(t, SleepUntil(t.Context(), time.Now().Add(-time.Second)), "a moment past returns at once")
	assert.True(t, Sleep(t.Context(), time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.False(t, Sleep(ctx, 0), "an ended context is reported even for no wait")
	start := time.Now()
	assert.False(t, Sleep(ctx, time.Hour))
	assert.Less(t, time.Since(start), time.Second)
}

// TestCondWakesOnChange: a waiter sees the change at once, not at its
// deadline, and without polling.
func TestCondWakesOnChange(t *testing.T) {
	var mu sync.Mutex
	c := NewCond(&mu)
	n := 0
	go func() {
		for range 3 {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			n++
			c.Changed()
			mu.Unlock()
		}
	}()
	start := time.Now()
	assert.True(t, c.Wait(t.Context(), time.Now().Add(time.Minute), 0, func() bool { return n == 3 }))
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestCondDeadlineAndContext(t *testing.T) {
	var mu sync.Mutex
	c := NewCond(&mu)
	calls := 0
	assert.False(t, c.Wait(t.Context(), time.Now().Add(-time.Second), 0, func() bool { calls++; return false }))
	assert.Equal(t, 2, calls, "a deadline already past checks at once and at the deadline")
	assert.True(t, c.Wait(t.Context(), time.Now(), 0, func() bool { return true }))

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel)
	assert.False(t, c.Wait(ctx, time.Now().Add(time.Minute), 0, func() bool { return false }))
	mu.Lock()
	c.Changed() // no waiter left: nothing to wake, nothing to block on
	mu.Unlock()
}

// TestCondPolls: state behind another lock is seen by polling, without a
// call to Changed.
func TestCondPolls(t *testing.T) {
	var mu sync.Mutex
	c := NewCond(&mu)
	var other atomic.Bool
	time.AfterFunc(20*time.Millisecond, func() { other.Store(true) })
	assert.True(t, c.Wait(t.Context(), time.Now().Add(time.Minute), 5*time.Millisecond, other.Load))
}
