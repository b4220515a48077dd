package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", stderr, "report RESULT.json [-o index.html]")
	out := fs.String("o", "index.html", "where to write the HTML report")
	maxMB := fs.Int64("max-input-mb", result.DefaultMaxBytes>>20, "refuse a result file larger than this many MiB")
	// Accept the flag after the file name too, as people type it.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	maxArgs := 1
	if file != "" {
		maxArgs = 0
	}
	if code, ok := parse(fs, args, maxArgs); !ok {
		return code
	}
	if file == "" {
		file = fs.Arg(0)
	}
	if file == "" {
		fmt.Fprintln(stderr, "wschaos report: name a result file, such as wschaos-report/result.json")
		fs.Usage()
		return exitUsage
	}
	if *maxMB < 1 {
		fmt.Fprintf(stderr, "wschaos report: --max-input-mb %d: want 1 or more\n", *maxMB)
		return exitUsage
	}
	res, err := result.ReadFile(file, result.ReadOptions{MaxBytes: *maxMB << 20})
	if err != nil {
		fmt.Fprintln(stderr, "wschaos report:", err)
		return exitUsage
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos report:", err)
		return exitUsage
	}
	if err := reports.WriteHTML(f, res); err != nil {
		f.Close()
		fmt.Fprintln(stderr, "wschaos report:", err)
		return exitFail
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(stderr, "wschaos report:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %d scenarios)\n", *out, res.Verdict, len(res.Scenarios))
	return exitOK
}
