//go:build linux

package flood

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	envAddr  = "WSCHAOS_TEST_FLOOD_ADDR"
	envConns = "WSCHAOS_TEST_FLOOD_CONNS"
	// dialers dial at once in the child; dialTimeout bounds each.
	dialers     = 128
	dialTimeout = 5 * time.Second
	// childLife stops a child whose parent never did.
	childLife = 2 * time.Minute
)

// Child runs the flood instead of the tests when the test binary was
// started by Start, and reports whether it did (TestMain then returns).
func Child() bool {
	addr := os.Getenv(envAddr)
	if addr == "" {
		return false
	}
	n, err := strconv.Atoi(os.Getenv(envConns))
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood child:", err)
		os.Exit(2)
	}
	run(addr, n)
	return true
}

// run dials n connections to addr and holds them, sending nothing, until
// its standard input closes (or childLife passes). It prints "dialled D held
// H failed F" after every 100 dials and when it is done.
func run(addr string, n int) {
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var (
		mu                     sync.Mutex
		held                   []net.Conn
		dialled, failed, count atomic.Int64
	)
	report := func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("dialled %d held %d failed %d\n", dialled.Load(), len(held), failed.Load())
	}
	var wg sync.WaitGroup
	for range dialers {
		wg.Go(func() {
			for count.Add(1) <= int64(n) {
				c, err := net.DialTimeout("tcp", addr, dialTimeout)
				mu.Lock()
				if err != nil {
					failed.Add(1)
				} else {
					held = append(held, c)
				}
				mu.Unlock()
				if dialled.Add(1)%100 == 0 {
					report()
				}
			}
		})
	}
	wg.Wait()
	report()
	select {
	case <-stop:
	case <-time.After(childLife):
	}
	for _, c := range held {
		c.Close()
	}
}

// Flood is a running child.
type Flood struct {
	cmd   *exec.Cmd
	stdin io.Closer
	lines chan string
	done  chan struct{}
}

// Start starts a child that dials n connections to addr and holds them.
// It is stopped at the end of the test if Stop was not called.
func Start(t testing.TB, addr string, n int) *Flood {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envAddr+"="+addr, envConns+"="+strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &Flood{cmd: cmd, stdin: stdin, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case f.lines <- sc.Text():
			default: // only the latest counts matter
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { f.Stop(t) })
	return f
}

// WaitDialled waits until the child has dialled n connections and returns
// how many it holds and how many dials failed.
func (f *Flood) WaitDialled(t testing.TB, n int, within time.Duration) (held, failed int) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case line := <-f.lines:
			var d int
			if _, err := fmt.Sscanf(line, "dialled %d held %d failed %d", &d, &held, &failed); err == nil && d >= n {
				return held, failed
			}
		case <-f.done:
			t.Fatalf("flood child exited before dialling %d connections", n)
		case <-timer.C:
			t.Fatalf("flood child did not dial %d connections within %v", n, within)
		}
	}
}

// Stop ends the child: its stdin closes (it closes its connections and
// exits), and if it has not exited within a few seconds it is killed.
func (f *Flood) Stop(t testing.TB) {
	t.Helper()
	_ = f.stdin.Close()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}
