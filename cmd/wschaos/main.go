// Command wschaos runs the network-fault scenario catalogue against a
// WebSocket client and writes the verdicts as a table, JSON, JUnit XML and an
// HTML report.
//
//	wschaos run [--out DIR] [--scenario REGEX] [--seed N] [--parallel N] [--client-cmd CMD [--clients N] [--client-profile FILE] [--ping-interval D ...]]
//	wschaos run --upstream HOST:PORT [--upstream-tls] [--upstream-path P] [--upstream-host NAME] [--upstream-ca FILE]
//	wschaos list [--json]
//	wschaos profile [--timescale K]
//	wschaos stress --clients N [--duration D] [--seed S] [--out DIR] [--timescale K] [--workers W] [--chain-shards K] [--proxy P] [--shard I/N --start-at T]
//	wschaos merge [--out DIR] DIR...
//	wschaos serve [--tls] [--push D] [--toxiproxy URL | --listen ADDR] [-v]
//	wschaos report RESULT.json [-o index.html]
//	wschaos version
//
// Exit status: 0 when every target is met, 1 when any is missed, 2 on bad
// usage, input or setup, 3 when nothing could be judged (every scenario n/a
// or not run), 130 when the run was interrupted (the partial result is
// written).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wschaos/wschaos/harness"
)

// Exit statuses.
const (
	exitOK            = 0
	exitFail          = 1
	exitUsage         = 2
	exitNothingJudged = 3
	exitInterrupted   = 130
)

func main() {
	// Toxiproxy's bandwidth toxic logs through zerolog's global logger; the
	// program, not the library, decides that it stays quiet.
	harness.QuietToxiproxy()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `wschaos: a network-fault chaos harness for WebSocket clients

Usage:
  wschaos run [flags]          run the scenario catalogue and write the report
  wschaos list [--json]        print the catalogue
  wschaos profile              print a client profile template (--client-profile FILE)
  wschaos stress --clients N   many clients under a seeded random fault schedule
  wschaos merge DIR...         combine the shard runs of one stress run split over machines
  wschaos serve [flags]        the fake server behind Toxiproxy, for exploring by hand
  wschaos report RESULT.json   render a stored result as HTML again
  wschaos version              print the version

Run 'wschaos COMMAND -h' for a command's flags.
`

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "stress":
		return cmdStress(ctx, args[1:], stdout, stderr)
	case "worker": // hidden: started by stress
		return cmdWorker(ctx, args[1:], os.Stdin, stdout, stderr)
	case "supervise": // hidden: started by run for each outside client
		return cmdSupervise(args[1:], stderr)
	case "shard": // hidden: started by stress
		return cmdShard(ctx, args[1:], os.Stdin, stdout, stderr)
	case "merge":
		return cmdMerge(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "list":
		return cmdList(args[1:], stdout, stderr)
	case "profile":
		return cmdProfile(args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "wschaos", version())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "wschaos: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
