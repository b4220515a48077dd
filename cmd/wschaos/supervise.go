package main

import (
	"fmt"
	"io"
	"os"

	"github.com/wschaos/wschaos/internal/supervise"
)

// cmdSupervise runs an outside client's command so that nothing it starts
// outlives the run: `wschaos supervise -- COMMAND [ARG...]`. It is started
// by `wschaos run --client-cmd`, not by people.
func cmdSupervise(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return supervise.Main(args, stderr)
}

// supervisor is the command prefix that supervises each outside client:
// this very binary. Without it the clients still run in process groups of
// their own, but a process that leaves its group, or a run killed with
// SIGKILL, can leave them behind; the run says so.
func supervisor(stderr io.Writer) []string {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "wschaos run: cannot find this program to supervise outside clients (%v); they run unsupervised\n", err)
		return nil
	}
	return []string{self, "supervise", "--"}
}
