package stress

import (
	"context"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/wschaos/wschaos/internal/fdlimit"
	"github.com/wschaos/wschaos/result"
)

// sampler tracks this process's resource use. The peak of goroutines is
// sampled every interval and the peak of descriptors every fdEvery
// intervals (before Linux 6.2, counting them lists /proc/self/fd, which
// costs the kernel time in proportion to the descriptors open: with 15,000
// open, sampling them every 500 ms took 5% of the coordinator's CPU); CPU
// and peak RSS come from getrusage when read.
type sampler struct {
	mu   sync.Mutex
	res  result.ProcessResources
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// startSampler samples every interval until Close.
func startSampler(process string, clients int, interval time.Duration) *sampler {
	s := &sampler{res: result.ProcessResources{Process: process, PID: os.Getpid(), Clients: clients}}
	s.res.FDLimit = fdLimit()
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if i%fdEvery == 0 {
					s.sample()
				} else {
					s.sampleGoroutines()
				}
			}
		}
	})
	return s
}

// fdEvery is how many sampling intervals pass between descriptor counts.
const fdEvery = 4

func (s *sampler) sampleGoroutines() {
	g := runtime.NumGoroutine()
	s.mu.Lock()
	s.res.PeakGoroutines = max(s.res.PeakGoroutines, g)
	s.mu.Unlock()
}

func (s *sampler) sample() {
	s.sampleGoroutines()
	fds := countFDs()
	s.mu.Lock()
	if fds < 0 {
		s.res.PeakFDs = -1
	} else {
		s.res.PeakFDs = max(s.res.PeakFDs, fds)
	}
	s.mu.Unlock()
}

// Snapshot returns the figures so far: the descriptors as of the last
// count (see fdEvery), the goroutines as of now.
func (s *sampler) Snapshot() result.ProcessResources {
	s.sampleGoroutines()
	s.mu.Lock()
	r := s.res
	s.mu.Unlock()
	r.CPUSeconds, r.PeakRSSBytes = cpuAndRSS()
	return r
}

// Final counts the descriptors now and returns the figures: the last
// snapshot of a process.
func (s *sampler) Final() result.ProcessResources {
	s.sample()
	return s.Snapshot()
}

// Close stops sampling and waits for the sampling goroutine to exit.
func (s *sampler) Close() {
	s.stop()
	s.wg.Wait()
}

// countFDs counts this process's open descriptors, or returns -1 without
// /proc.
func countFDs() int {
	n, ok := fdlimit.Open()
	if !ok {
		return -1
	}
	return n
}
