package groundtruth

import (
	"sync"
	"time"
)

// probe measures how late the machine runs timers: a goroutine sleeps
// probeTick at a time and records every wake-up later than probeSlop. The
// truth assumes timers fire on time; when the machine stalls (a loaded 2-core
// box, the race detector, a GC pause), a client timer that falls in the stall
// fires late by up to the stall. A figure's allowance therefore grows by the
// longest stall seen during its window, once for each timer the figure waits
// on in turn, and the figure reports it.
type probe struct {
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	stalls []stall
}

type stall struct {
	woke time.Time
	late time.Duration
}

const (
	probeTick = time.Millisecond
	probeSlop = 2 * time.Millisecond
)

// startProbe starts the probe; stop ends it and waits for its goroutine.
func startProbe() *probe {
	p := &probe{stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *probe) run() {
	defer close(p.done)
	t := time.NewTimer(probeTick)
	defer t.Stop()
	for {
		asleep := time.Now()
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		// Measured at the receive, not from the time t.C carries, so that
		// the goroutine's own scheduling delay counts too.
		now := time.Now()
		if late := now.Sub(asleep) - probeTick; late > probeSlop {
			p.mu.Lock()
			p.stalls = append(p.stalls, stall{woke: now, late: late})
			p.mu.Unlock()
		}
		t.Reset(probeTick)
	}
}

func (p *probe) close() {
	close(p.stop)
	<-p.done
}

// worstBetween is the longest stall that ended within [from, to]: only
// those can have delayed something recorded at to.
func (p *probe) worstBetween(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var worst time.Duration
	for _, s := range p.stalls {
		if !s.woke.Before(from) && !s.woke.After(to) {
			worst = max(worst, s.late)
		}
	}
	return worst
}
