package stress

import (
	"context"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Resources is one process's use of the machine over a run.
type Resources struct {
	// Process is "coordinator" or "worker N".
	Process string `json:"process"`
	PID     int    `json:"pid"`
	Clients int    `json:"clients"`
	// CPUSeconds is user plus system CPU time.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PeakRSSBytes is the peak resident set size (getrusage ru_maxrss).
	PeakRSSBytes   int64 `json:"peak_rss_bytes"`
	PeakGoroutines int   `json:"peak_goroutines"`
	// PeakFDs is the most open file descriptors seen (/proc/self/fd,
	// sampled); -1 where /proc is not available.
	PeakFDs int `json:"peak_fds"`
	// FDLimit is the soft RLIMIT_NOFILE the process ran with.
	FDLimit int64 `json:"fd_limit"`
}

// sampler tracks this process's resource use. Peaks of goroutines and
// descriptors are sampled every interval; CPU and peak RSS come from
// getrusage when read.
type sampler struct {
	mu   sync.Mutex
	res  Resources
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// startSampler samples every interval until Close.
func startSampler(process string, clients int, interval time.Duration) *sampler {
	s := &sampler{res: Resources{Process: process, PID: os.Getpid(), Clients: clients}}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		s.res.FDLimit = int64(lim.Cur)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample()
			}
		}
	})
	return s
}

func (s *sampler) sample() {
	g, fds := runtime.NumGoroutine(), countFDs()
	s.mu.Lock()
	s.res.PeakGoroutines = max(s.res.PeakGoroutines, g)
	if fds < 0 {
		s.res.PeakFDs = -1
	} else {
		s.res.PeakFDs = max(s.res.PeakFDs, fds)
	}
	s.mu.Unlock()
}

// Snapshot returns the figures so far.
func (s *sampler) Snapshot() Resources {
	s.sample()
	s.mu.Lock()
	r := s.res
	s.mu.Unlock()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.CPUSeconds = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
		r.PeakRSSBytes = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	return r
}

// Close stops sampling and waits for the sampling goroutine to exit.
func (s *sampler) Close() {
	s.stop()
	s.wg.Wait()
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// countFDs counts this process's open descriptors, or returns -1 without
// /proc.
func countFDs() int {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(4096)
		n += len(names)
		if err != nil || len(names) == 0 {
			break
		}
	}
	return n - 1 // the descriptor reading the directory
}
