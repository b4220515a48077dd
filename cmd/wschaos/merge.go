package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/wschaos/wschaos/internal/stress"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

// cmdMerge combines the results of the shards of one split stress run.
func cmdMerge(args []string, stdout, stderr io.Writer) int {
	fs, out, maxMB := newMergeFlags(stderr)
	if code, ok := parse(fs, args, math.MaxInt); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "wschaos merge: name the shard runs' output directories (or result.json files), every shard of one run")
		fs.Usage()
		return exitUsage
	}
	if *maxMB < 1 {
		fmt.Fprintf(stderr, "wschaos merge: --max-input-mb %d: want 1 or more\n", *maxMB)
		return exitUsage
	}
	var parts []*result.Result
	var names []string
	for _, arg := range fs.Args() {
		path := arg
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			path = filepath.Join(arg, reports.JSONFile)
		}
		r, err := result.ReadFile(path, result.ReadOptions{MaxBytes: *maxMB << 20})
		if err != nil {
			fmt.Fprintln(stderr, "wschaos merge:", err)
			return exitUsage
		}
		parts, names = append(parts, r), append(names, path)
	}
	res, err := stress.Merge(parts, names)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos merge:", err)
		return exitUsage
	}
	res.Run.Command = "wschaos merge " + strings.Join(quoteAll(fs.Args()), " ")
	res.Summary = stressSummary(res.Verdict)
	fmt.Fprintf(stdout, "merged %d shard runs of seed %d: %s\n\n", len(parts), res.Run.Seed, strings.Join(names, ", "))
	if code := writeStress(stdout, stderr, *out, res); code != exitOK {
		return code
	}
	if res.Verdict != result.Pass {
		return exitFail
	}
	return exitOK
}

func newMergeFlags(stderr io.Writer) (fs *flag.FlagSet, out *string, maxMB *int64) {
	fs = newFlagSet("merge", stderr, "merge [--out DIR] [--max-input-mb N] DIR... (each a shard run's --out, or its result.json)")
	out = fs.String("out", "wschaos-merged", "directory for the merged result.json, index.html, junit.xml and "+stressFile)
	maxMB = fs.Int64("max-input-mb", result.DefaultMaxBytes>>20, "refuse a result file larger than this many MiB")
	return fs, out, maxMB
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}
