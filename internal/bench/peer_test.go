package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
)

// A peer is this test binary re-executed to host the far end of a footprint
// measurement (a fake server, or a herd of clients), so that the measuring
// process holds only the component being measured. TestMain runs the peer
// when peerEnv names a role; the peer prints one line when it is up, and
// stops when its standard input closes.
const (
	peerEnv  = "WSCHAOS_BENCH_PEER" // "server", "clients", "chain" or "wsserver"
	peerURL  = "WSCHAOS_BENCH_URL"  // clients: the URL to dial
	peerN    = "WSCHAOS_BENCH_N"    // clients: how many
	peerHop  = "WSCHAOS_BENCH_HOP"  // chain: "memnet" (the default) or "tcp"
	peerWait = 30 * time.Second     // bounds every wait on a peer
)

// runPeer serves one role until standard input closes; it returns the exit
// code.
func runPeer(role string) int {
	var err error
	switch role {
	case "server":
		err = peerServer()
	case "clients":
		err = peerClients(os.Getenv(peerURL), os.Getenv(peerN))
	case "chain":
		err = peerChain(cmp.Or(os.Getenv(peerHop), "memnet"))
	case "wsserver":
		err = peerWSServer()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench peer:", err)
		return 1
	}
	return 0
}

func peerServer() error {
	srv, err := fakeserver.New(fakeserver.Options{})
	if err != nil {
		return err
	}
	fmt.Println(srv.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

func peerClients(url, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", peerN, count, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := connectClients(ctx, url, n)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for _, c := range ready.clients {
		wg.Go(func() { _ = c.Run(ctx) })
	}
	if err := ready.wait(peerWait); err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// herd is n reference clients and a count of those that became ready.
type herd struct {
	clients []*client.Client
	mu      sync.Mutex
	n       int
	all     chan struct{}
}

// connectClients builds n reference clients for url, with the default
// (production) timings; the caller runs them.
func connectClients(ctx context.Context, url string, n int) *herd {
	h := &herd{all: make(chan struct{})}
	for i := range n {
		c, err := client.New(url, client.Options{
			Session:  true,
			ClientID: fmt.Sprintf("b%d", i+1),
			OnEvent: func(ev client.Event) {
				if ev.Kind != client.EventReady {
					return
				}
				h.mu.Lock()
				defer h.mu.Unlock()
				if h.n++; h.n == n {
					close(h.all)
				}
			},
		})
		if err != nil {
			panic(err) // a constant, valid configuration
		}
		h.clients = append(h.clients, c)
	}
	return h
}

func (h *herd) wait(d time.Duration) error {
	select {
	case <-h.all:
		return nil
	case <-time.After(d):
		h.mu.Lock()
		defer h.mu.Unlock()
		return fmt.Errorf("only %d of %d clients ready after %v", h.n, len(h.clients), d)
	}
}

// peer is a running helper process.
type peer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed when the process has exited and Wait returned
	line   string        // the line it printed when it was up
}

// startPeer starts the test binary as a peer with role and env, and waits
// for its first line. The caller stops it.
func startPeer(tb testing.TB, role string, env ...string) (*peer, error) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{peerEnv + "=" + role}, env...)...)
	cmd.Stderr = os.Stderr
	out := &firstLine{line: make(chan string, 1)}
	cmd.Stdout = out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peer{cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.line = <-out.line:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("bench peer %s exited before it was up", role)
	case <-time.After(peerWait):
		p.stop()
		return nil, fmt.Errorf("bench peer %s not up after %v", role, peerWait)
	}
}

// stopIfStarted stops p unless it is nil.
func (p *peer) stopIfStarted() {
	if p != nil {
		p.stop()
	}
}

// stop closes the peer's standard input and waits for it to exit.
func (p *peer) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(peerWait):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// firstLine is a peer's standard output: it hands over the first line and
// discards the rest.
type firstLine struct {
	mu   sync.Mutex
	buf  []byte
	sent bool
	line chan string // capacity 1
}

func (w *firstLine) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.sent {
		w.buf = append(w.buf, p...)
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.sent = true
			w.line <- strings.TrimSpace(string(w.buf[:i]))
		}
	}
	return len(p), nil
}

// processCPU is the user and system CPU time process pid has used, from
// /proc/PID/stat (utime and stime, in the kernel's USER_HZ ticks of 10 ms),
// or false where there is no such file.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after its closing one, where field 3 (the state) comes first.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// TestProcessCPU: the figure grows while the process computes.
func TestProcessCPU(t *testing.T) {
	before, ok := processCPU(os.Getpid())
	if !ok {
		t.Skip("no /proc/PID/stat here")
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		if now, _ := processCPU(os.Getpid()); now > before {
			return
		}
	}
	t.Fatalf("5 s of computing (%d) did not move the process's CPU time from %v", x, before)
}
