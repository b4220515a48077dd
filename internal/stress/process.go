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
	"strings"
	"sync"
	"time"
)

// proc is one child of the coordinator, a worker or a chain shard: a
// process, or goroutines with pipes. It reads one configuration line and
// commands on its input and writes wire lines on its output, which the
// coordinator decodes and hands to handle.
type proc struct {
	name   string // "worker 2", "shard 1"
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex // serialises writes to stdin
	read   chan struct{}
	inproc chan error
	cancel context.CancelFunc
	stderr *tailBuffer
	// decode parses one output line; handle takes it.
	decode func([]byte) (wire, error)
	handle func(wire) error
	bye    bool // under coord.mu
	killed bool // under mu
	closed bool // under mu
}

// runChild is a child's body, for in-process children.
type runChild func(ctx context.Context, in io.Reader, out io.Writer) error

// startProc starts p as argv (a process) or as body (in process, when
// inProcess), sends it cfg as its first line and reads its output until
// it ends.
func (c *coord) startProc(p *proc, argv []string, body runChild, cfg any) error {
	p.read, p.stderr = make(chan struct{}), &tailBuffer{max: 4096}
	var stdout io.ReadCloser
	if c.opts.InProcess {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		p.stdin, stdout, p.cancel, p.inproc = inW, outR, cancel, make(chan error, 1)
		go func() {
			err := body(ctx, inR, outW)
			outW.Close()
			inR.Close()
			p.inproc <- err
		}()
	} else {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), c.opts.WorkerEnv...)
		cmd.Stderr = p.stderr
		setWorkerAttrs(cmd)
		var err error
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			return fmt.Errorf("stress: %s: %w", p.name, err)
		}
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return fmt.Errorf("stress: %s: %w", p.name, err)
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("stress: start %s (%s): %w", p.name, strings.Join(argv, " "), err)
		}
		p.cmd = cmd
	}
	go c.readProc(p, stdout)
	b, _ := json.Marshal(cfg)
	if err := p.write(b); err != nil {
		return fmt.Errorf("stress: %s: send config: %w", p.name, err)
	}
	return nil
}

func (p *proc) write(line []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("input closed")
	}
	_, err := p.stdin.Write(append(line, '\n'))
	return err
}

func (p *proc) send(cmd any) error {
	b, _ := json.Marshal(cmd)
	return p.write(b)
}

func (p *proc) closeInput() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		_ = p.stdin.Close()
	}
}

// readProc decodes a child's lines until its output ends. A line that
// does not decode is a broken child: it is recorded and the child killed.
func (c *coord) readProc(p *proc, out io.ReadCloser) {
	defer close(p.read)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		w, err := p.decode(sc.Bytes())
		if err == nil {
			err = p.handle(w)
		}
		if err != nil {
			c.fail("%s line %d: %v", p.name, line, err)
			p.kill()
			_, _ = io.Copy(io.Discard, out)
			return
		}
	}
	if err := sc.Err(); err != nil {
		c.fail("%s: reading its output: %v", p.name, err)
		p.kill()
		_, _ = io.Copy(io.Discard, out)
	}
}

// kill ends a child at once: its process group, or its goroutines.
func (p *proc) kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		killGroup(p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.closeInput()
}

// stopProcs asks every child in ps to stop (the stop command, then the end
// of its input), waits for them to say bye and exit, and kills those that
// do not within grace.
func (c *coord) stopProcs(ps []*proc, stop any, grace time.Duration) {
	for _, p := range ps {
		_ = p.send(stop)
		p.closeInput()
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for _, p := range ps {
		select {
		case <-p.read:
		case <-timer.C:
			c.fail("%s did not stop within the grace; killed", p.name)
			p.kill()
			<-p.read
		}
	}
	for _, p := range ps {
		var err error
		if p.cmd != nil {
			// The group goes too: nothing a child started may outlive it.
			err = p.cmd.Wait()
			killGroup(p.cmd.Process.Pid)
		} else {
			err = <-p.inproc
			p.cancel()
		}
		c.mu.Lock()
		bye := p.bye
		c.mu.Unlock()
		p.mu.Lock()
		killed := p.killed
		p.mu.Unlock()
		switch {
		case killed:
		case err != nil:
			c.fail("%s: %v %s", p.name, err, strings.TrimSpace(p.stderr.String()))
		case !bye:
			c.fail("%s ended without its final report %s", p.name, strings.TrimSpace(p.stderr.String()))
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
