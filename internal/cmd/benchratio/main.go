// Command benchratio runs the performance benchmarks of internal/bench,
// internal/chaosnet/segment and internal/stress and prints the figures the
// README quotes:
// ratios measured side by side (through Toxiproxy, or the packet segment,
// against direct), per-connection footprints, the
// harness's measurement error and the mass-recovery rate, each as the median
// over the runs with the range beside it. `make bench` calls it.
//
//	benchratio [-count N] [-go GO] [-pkg PATTERN]   run go test -bench, then summarise
//	benchratio -in FILE                               summarise stored output ("-" for stdin)
//
// The benchmark output is passed through as it comes, then the table
// follows. Exit status: 0 when the benchmarks ran and produced figures, 1
// otherwise, 2 on bad usage.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchratio", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 5, "runs of each benchmark (go test -count)")
	goTool := fs.String("go", "go", "the go command")
	pkg := fs.String("pkg", "./internal/bench/... ./internal/chaosnet/segment ./internal/stress", "the benchmark packages, separated by spaces")
	in := fs.String("in", "", `read stored "go test -bench" output from this file ("-" for stdin) instead of running it`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *count < 1 {
		fmt.Fprintln(stderr, "usage: benchratio [-count N] [-go GO] [-pkg PATTERN] | benchratio -in FILE")
		return 2
	}

	var out []byte
	var runErr error
	switch *in {
	case "":
		var buf bytes.Buffer
		args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(*count)}, strings.Fields(*pkg)...)
		cmd := exec.Command(*goTool, args...)
		cmd.Stdout = io.MultiWriter(stdout, &buf)
		cmd.Stderr = stderr
		runErr = cmd.Run()
		out = buf.Bytes()
	case "-":
		out, runErr = io.ReadAll(os.Stdin)
	default:
		out, runErr = os.ReadFile(*in)
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "benchratio:", runErr)
	}
	samples := parse(out)
	if len(samples) == 0 {
		fmt.Fprintln(stderr, "benchratio: no benchmark results")
		return 1
	}
	fmt.Fprintln(stdout)
	report(stdout, samples)
	if runErr != nil {
		return 1
	}
	return 0
}
