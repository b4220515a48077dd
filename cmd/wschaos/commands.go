package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/scenarios"
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

func selectScenarios(pattern string, scale float64) ([]harness.Scenario, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("--scenario %q is not a valid regular expression: %w", pattern, err)
	}
	var out []harness.Scenario
	for _, sc := range scenarios.CatalogAt(scale) {
		if re.MatchString(sc.Name) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scenario %q matches no scenario; 'wschaos list' shows the names", pattern)
	}
	return out, nil
}

// subject is one client the catalogue is held against.
type subject struct {
	info   reports.Client
	mutate func(*client.Options)
}

// job is one scenario against one subject.
type job struct {
	sc  harness.Scenario
	sub int
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", stderr, "run [flags]")
	out := fs.String("out", "wschaos-report", "directory for result.json, index.html and junit.xml")
	pattern := fs.String("scenario", "", "run only the scenarios whose name matches this regular expression")
	seed := fs.Int64("seed", 0, "seed for jitter and workload (0 picks one at random and prints it)")
	parallel := fs.Int("parallel", 8, "how many scenarios run at once")
	scale := fs.Float64("timescale", 1, "multiply every duration of the client profile and the fault schedule (and so every target) by this")
	clientCmd := fs.String("client-cmd", "", "hold this shell command to the catalogue instead of the reference client: it is started per scenario with WSCHAOS_URL, WSCHAOS_CLIENT_ID, WSCHAOS_SEED (and WSCHAOS_CA_FILE over wss) and measured from the wire")
	mutants := fs.Bool("mutants", false, "also run every mutant (deliberately broken) client; passes only if each is caught and the reference client passes")
	toxi := fs.String("toxiproxy", os.Getenv("TOXIPROXY_URL"), "API URL of an external toxiproxy-server (default $TOXIPROXY_URL; empty embeds Toxiproxy)")
	verbose := fs.Bool("v", false, "log progress of each scenario")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if *parallel < 1 {
		fmt.Fprintf(stderr, "wschaos run: --parallel %d must be 1 or more\n", *parallel)
		return exitUsage
	}
	if !(*scale > 0) || *scale > 1000 {
		fmt.Fprintf(stderr, "wschaos run: --timescale %v must be above 0 and at most 1000\n", *scale)
		return exitUsage
	}
	if *clientCmd != "" && *mutants {
		fmt.Fprintln(stderr, "wschaos run: --mutants and --client-cmd do not mix: mutants are variants of the reference client")
		return exitUsage
	}
	list, err := selectScenarios(*pattern, *scale)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos run:", err)
		return exitUsage
	}
	var command []string
	if *clientCmd != "" {
		command = []string{"/bin/sh", "-c", *clientCmd}
		var skipped []string
		list = slices.DeleteFunc(list, func(sc harness.Scenario) bool {
			if sc.Clients > 1 {
				skipped = append(skipped, sc.Name)
				return true
			}
			return false
		})
		if len(skipped) > 0 {
			fmt.Fprintf(stderr, "wschaos run: not applicable to an outside client (single-client scenarios only): %s\n", strings.Join(skipped, ", "))
		}
		if len(list) == 0 {
			fmt.Fprintln(stderr, "wschaos run: no single-client scenario selected")
			return exitUsage
		}
	}
	if *seed == 0 {
		*seed = rand.Int64N(1<<31-1) + 1
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}

	mode, toxVersion, err := probeToxiproxy(ctx, *toxi)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos run:", err)
		return exitUsage
	}

	subjects := []subject{{info: reports.Client{Name: "reference", Description: "the reference client (package client) with the scenario's profile"}}}
	if command != nil {
		subjects = []subject{{info: reports.Client{Name: "outside: " + *clientCmd,
			Description: "an outside client, measured through the wire tap and the fake server; message continuity is not applicable"}}}
	}
	if *mutants {
		for _, m := range scenarios.Mutants() {
			subjects = append(subjects, subject{info: reports.Client{Name: m.Name, Description: m.Description, Mutant: true}, mutate: m.Mutate})
		}
	}
	var jobs []job
	for i := range subjects {
		for _, sc := range list {
			jobs = append(jobs, job{sc: sc, sub: i})
		}
	}

	replay := fmt.Sprintf("wschaos run --seed %d", *seed)
	if *pattern != "" {
		replay += fmt.Sprintf(" --scenario '%s'", *pattern)
	}
	if *scale != 1 {
		replay += fmt.Sprintf(" --timescale %g", *scale)
	}
	if *mutants {
		replay += " --mutants"
	}
	if *clientCmd != "" {
		replay += fmt.Sprintf(" --client-cmd '%s'", *clientCmd)
	}
	fmt.Fprintf(stderr, "wschaos %s: %d scenarios x %d clients, seed %d, time scale %g, Toxiproxy %s (%s)\n",
		version(), len(list), len(subjects), *seed, *scale, mode, toxVersion)

	started := time.Now()
	results := make([]reports.Scenario, len(jobs))
	sem := newWeighted(*parallel)
	var wg sync.WaitGroup
	var printMu sync.Mutex
	done := 0
	for i, j := range jobs {
		wg.Go(func() {
			// A scenario with many clients takes a slot per ten of them,
			// so several herds do not starve each other's timers.
			cost := min(*parallel, max(1, (j.sc.Clients+9)/10))
			if !sem.acquire(ctx, cost) {
				return
			}
			defer sem.release(cost)
			sub := subjects[j.sub]
			res := harness.Run(ctx, j.sc, harness.RunOptions{
				ToxiproxyURL: *toxi, Seed: *seed, Logger: logger, ClientName: sub.info.Name, Mutate: sub.mutate,
				Command: command,
			})
			results[i] = res
			printMu.Lock()
			done++
			fmt.Fprintf(stderr, "[%d/%d] %-22s %-22s %s\n", done, len(jobs), j.sc.Name, sub.info.Name, strings.ToUpper(res.Verdict))
			printMu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "wschaos run: interrupted; writing what was measured")
		results = slices.DeleteFunc(results, func(r reports.Scenario) bool { return r.Name == "" })
	}

	res := &reports.Result{
		Schema:      reports.Schema,
		GeneratedAt: time.Now().UTC(),
		Run: reports.RunInfo{
			Version: version(), GoVersion: runtime.Version(), ToxiproxyMode: mode, ToxiproxyVersion: toxVersion,
			Seed: *seed, Command: replay, DurationMS: float64(time.Since(started)) / float64(time.Millisecond),
		},
		Scenarios: results,
	}
	for _, sub := range subjects {
		res.Clients = append(res.Clients, sub.info)
	}
	res.Verdict = judge(res)

	printTable(stdout, slices.DeleteFunc(slices.Clone(results), func(r reports.Scenario) bool { return isMutant(res.Clients, r.Client) }))
	if *mutants {
		printMutants(stdout, res.Clients)
	}
	if err := reports.WriteFiles(*out, res); err != nil {
		fmt.Fprintln(stderr, "wschaos run:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "\n%s: %d scenarios x %d clients, seed %d. Report: %s\nReplay: %s\n",
		strings.ToUpper(res.Verdict), len(list), len(subjects), *seed, filepath.Join(*out, "index.html"), replay)
	if res.Verdict != reports.Pass || ctx.Err() != nil {
		return exitFail
	}
	return exitOK
}

func isMutant(clients []reports.Client, name string) bool {
	for _, c := range clients {
		if c.Name == name {
			return c.Mutant
		}
	}
	return false
}

// judge sets each mutant's Caught and CaughtBy and returns the run's
// verdict: pass when every non-mutant result passed and every mutant was
// caught by at least one scenario.
func judge(res *reports.Result) string {
	verdict := reports.Pass
	for i := range res.Clients {
		c := &res.Clients[i]
		for _, s := range res.Scenarios {
			if s.Client != c.Name {
				continue
			}
			if !c.Mutant {
				if s.Verdict != reports.Pass {
					verdict = reports.Fail
				}
				continue
			}
			if s.Verdict == reports.Fail && s.Error == "" {
				c.Caught = true
				for _, ch := range s.Checks {
					if !ch.OK {
						c.CaughtBy = append(c.CaughtBy, s.Name+": "+ch.Name)
					}
				}
			}
		}
		if c.Mutant && !c.Caught {
			verdict = reports.Fail
		}
	}
	return verdict
}

func printMutants(w io.Writer, clients []reports.Client) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nMUTANT\tCAUGHT\tBY")
	for _, c := range clients {
		if !c.Mutant {
			continue
		}
		by := c.CaughtBy
		more := ""
		if len(by) > 4 {
			by, more = by[:4], fmt.Sprintf(" and %d more", len(c.CaughtBy)-4)
		}
		caught := "NO"
		if c.Caught {
			caught = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\n", c.Name, caught, strings.Join(by, "; "), more)
	}
	tw.Flush()
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

func printTable(w io.Writer, results []reports.Scenario) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCLIENT\tVERDICT\tDETECT\tRECOVER\tDOWNTIME\tATTEMPTS\tFAILED CHECKS")
	for _, r := range results {
		var failed []string
		for _, c := range r.Checks {
			if !c.OK {
				failed = append(failed, fmt.Sprintf("%s (got %s, want %s)", c.Name, c.Got, c.Want))
			}
		}
		if r.Error != "" {
			failed = append(failed, "error: "+r.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.Client, strings.ToUpper(r.Verdict),
			msOrDash(r.Measured.DetectMS), msOrDash(r.Measured.RecoverMS), msOrDash(r.Measured.DowntimeMS),
			r.Measured.Attempts, strings.Join(failed, "; "))
	}
	tw.Flush()
}

func msOrDash(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", *v)
}

type listEntry struct {
	Name        string   `json:"name"`
	Faults      []string `json:"faults"`
	Description string   `json:"description"`
	Clients     int      `json:"clients"`
	TLS         bool     `json:"tls,omitempty"`
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("list", stderr, "list [--json]")
	asJSON := fs.Bool("json", false, "print JSON: [{\"name\", \"faults\", \"description\"}]")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	var entries []listEntry
	for _, sc := range scenarios.Catalog() {
		entries = append(entries, listEntry{Name: sc.Name, Faults: sc.FaultKinds(), Description: sc.Description,
			Clients: max(sc.Clients, 1), TLS: sc.TLS})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			fmt.Fprintln(stderr, "wschaos list:", err)
			return exitFail
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFAULTS\tCLIENTS\tDESCRIPTION")
	for _, e := range entries {
		desc := e.Description
		if i := strings.Index(desc, ". "); i > 0 {
			desc = desc[:i+1]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.Name, strings.Join(e.Faults, ","), e.Clients, desc)
	}
	tw.Flush()
	return exitOK
}

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", stderr, "report RESULT.json [-o index.html]")
	out := fs.String("o", "index.html", "where to write the HTML report")
	// Accept the flag after the file name too, as people type it.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args, 1); !ok {
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
	res, err := reports.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos report:", err)
		return exitUsage
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos report:", err)
		return exitFail
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

// weighted is a counting semaphore whose holders take several slots.
type weighted struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int
}

func newWeighted(n int) *weighted {
	w := &weighted{free: n}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// acquire takes n slots, or gives up when ctx ends.
func (w *weighted) acquire(ctx context.Context, n int) bool {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.free < n {
		if ctx.Err() != nil {
			return false
		}
		w.cond.Wait()
	}
	w.free -= n
	return true
}

func (w *weighted) release(n int) {
	w.mu.Lock()
	w.free += n
	w.cond.Broadcast()
	w.mu.Unlock()
}
