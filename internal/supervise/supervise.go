package supervise

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Grace is how long the client's group has to exit after SIGTERM before it
// gets SIGKILL.
const Grace = 2 * time.Second

// Main runs argv (a command and its arguments) supervised, with the
// supervisor's standard streams, until it exits or the supervisor is told
// to stop, and returns the exit status to leave with: the command's own, or
// 128+signal when the supervisor was stopped. Messages about processes it
// had to end go to stderr.
func Main(argv []string, stderr io.Writer) int {
	if len(argv) == 0 || argv[0] == "" {
		fmt.Fprintln(stderr, "wschaos supervise: no command: want 'wschaos supervise -- COMMAND [ARG...]'")
		return 2
	}
	becomeSubreaper()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(stop)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = groupAttrs()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "wschaos supervise: start %s: %v\n", argv[0], err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	status := 0
	select {
	case err := <-done:
		status = exitStatus(err)
	case sig := <-stop:
		endGroup(cmd.Process.Pid, done)
		status = 128 + signalNumber(sig)
	}
	for _, p := range endDescendants() {
		fmt.Fprintf(stderr, "wschaos: ended pid %d (%s), which the client left running\n", p.pid, p.cmdline)
	}
	return status
}

// endGroup sends the client's group SIGTERM, then SIGKILL after Grace, and
// waits for the client.
func endGroup(pgid int, done <-chan error) {
	signalGroup(pgid, syscall.SIGTERM)
	t := time.NewTimer(Grace)
	defer t.Stop()
	select {
	case <-done:
		// The leader exited; members that ignore SIGTERM may linger.
		signalGroup(pgid, syscall.SIGKILL)
	case <-t.C:
		signalGroup(pgid, syscall.SIGKILL)
		<-done
	}
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		return 128 + signalOf(ee)
	}
	return 1
}

// proc is a process the supervisor ended: its pid and command line.
type proc struct {
	pid     int
	cmdline string
}
