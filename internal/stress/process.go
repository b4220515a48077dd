package stress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// workerProc is one worker: a process, or goroutines with pipes.
type workerProc struct {
	cfg    WorkerConfig
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex // serialises writes to stdin
	read   chan struct{}
	inproc chan error
	cancel context.CancelFunc
	stderr *tailBuffer
	bye    bool // under coord.mu
	killed bool // under mu
	closed bool // under mu
}

func (c *coord) startWorker(cfg WorkerConfig) (*workerProc, error) {
	wp := &workerProc{cfg: cfg, read: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	var stdout io.ReadCloser
	if c.opts.InProcess {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		wp.stdin, stdout, wp.cancel, wp.inproc = inW, outR, cancel, make(chan error, 1)
		go func() {
			err := RunWorker(ctx, inR, outW)
			outW.Close()
			inR.Close()
			wp.inproc <- err
		}()
	} else {
		argv := c.opts.WorkerCommand
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), c.opts.WorkerEnv...)
		cmd.Stderr = wp.stderr
		setWorkerAttrs(cmd)
		var err error
		if wp.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("stress: worker %d: %w", cfg.Worker, err)
		}
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, fmt.Errorf("stress: worker %d: %w", cfg.Worker, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("stress: start worker %d (%s): %w", cfg.Worker, strings.Join(argv, " "), err)
		}
		wp.cmd = cmd
	}
	go c.readWorker(wp, stdout)
	b, _ := json.Marshal(cfg)
	if err := wp.write(b); err != nil {
		return wp, fmt.Errorf("stress: worker %d: send config: %w", cfg.Worker, err)
	}
	return wp, nil
}

func (wp *workerProc) write(line []byte) error {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if wp.closed {
		return errors.New("input closed")
	}
	_, err := wp.stdin.Write(append(line, '\n'))
	return err
}

func (wp *workerProc) closeInput() {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if !wp.closed {
		wp.closed = true
		_ = wp.stdin.Close()
	}
}

func (c *coord) broadcast(cmd command) {
	b, _ := json.Marshal(cmd)
	c.mu.Lock()
	ws := slices.Clone(c.workers)
	c.mu.Unlock()
	for _, wp := range ws {
		_ = wp.write(b)
	}
}

// readWorker decodes a worker's lines until its output ends. A line that
// does not decode is a broken worker: it is recorded and the worker killed.
func (c *coord) readWorker(wp *workerProc, out io.ReadCloser) {
	defer close(wp.read)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		w, err := decodeWire(sc.Bytes())
		if err == nil {
			err = c.onWire(wp, w)
		}
		if err != nil {
			c.fail("worker %d line %d: %v", wp.cfg.Worker, line, err)
			c.kill(wp)
			_, _ = io.Copy(io.Discard, out)
			return
		}
	}
	if err := sc.Err(); err != nil {
		c.fail("worker %d: reading its output: %v", wp.cfg.Worker, err)
		c.kill(wp)
		_, _ = io.Copy(io.Discard, out)
	}
}

// kill ends a worker at once: its process group, or its goroutines.
func (c *coord) kill(wp *workerProc) {
	wp.mu.Lock()
	wp.killed = true
	wp.mu.Unlock()
	if wp.cmd != nil && wp.cmd.Process != nil {
		killGroup(wp.cmd.Process.Pid)
		_ = wp.cmd.Process.Kill()
	}
	if wp.cancel != nil {
		wp.cancel()
	}
	wp.closeInput()
}

// stopWorkers asks every worker to stop, waits for them to say bye and
// exit, and kills those that do not within the grace.
func (c *coord) stopWorkers() {
	c.mu.Lock()
	ws := slices.Clone(c.workers)
	c.mu.Unlock()
	b, _ := json.Marshal(command{Cmd: cmdStop})
	for _, wp := range ws {
		_ = wp.write(b)
		wp.closeInput()
	}
	grace := time.NewTimer(c.eff.CloseGrace + 15*time.Second)
	defer grace.Stop()
	for _, wp := range ws {
		select {
		case <-wp.read:
		case <-grace.C:
			c.fail("worker %d did not stop within the grace; killed", wp.cfg.Worker)
			c.kill(wp)
			<-wp.read
		}
	}
	for _, wp := range ws {
		var err error
		if wp.cmd != nil {
			// The group goes too: nothing a worker started may outlive it.
			err = wp.cmd.Wait()
			killGroup(wp.cmd.Process.Pid)
		} else {
			err = <-wp.inproc
			wp.cancel()
		}
		c.mu.Lock()
		bye := wp.bye
		c.mu.Unlock()
		wp.mu.Lock()
		killed := wp.killed
		wp.mu.Unlock()
		switch {
		case killed:
		case err != nil:
			c.fail("worker %d: %v %s", wp.cfg.Worker, err, strings.TrimSpace(wp.stderr.String()))
		case !bye:
			c.fail("worker %d ended without its final report %s", wp.cfg.Worker, strings.TrimSpace(wp.stderr.String()))
		}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
