package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/wschaos/wschaos/internal/chaosnet"
)

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newFlagSet(name string, stderr io.Writer, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("wschaos "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wschaos %s\n\n", help)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and refuses stray arguments; it returns an exit status
// and false when the command must stop.
func parse(fs *flag.FlagSet, args []string, maxArgs int) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(maxArgs))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// probeToxiproxy checks the Toxiproxy the run will use and returns its mode
// and version.
func probeToxiproxy(ctx context.Context, url string) (mode, version string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t, err := chaosnet.StartToxiproxy(ctx, url)
	if err != nil {
		return "", "", err
	}
	defer t.Close()
	v, err := t.Version(ctx)
	if err != nil {
		return "", "", fmt.Errorf("toxiproxy at %s: %w", t.URL(), err)
	}
	return t.Mode(), v, nil
}
