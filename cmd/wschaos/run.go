package main

import (
	"context"
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
	"github.com/wschaos/wschaos/scenarios"
)

// Limits on --timescale: below the minimum every bound of the compressed
// profile would be shorter than a loaded machine's scheduling, so targets
// would measure the machine, not the client.
const (
	minTimescale = 0.5
	maxTimescale = 1000
	maxParallel  = 64
)

// runConfig is a wschaos run, its flags checked.
type runConfig struct {
	out       string
	pattern   string
	seed      int64
	parallel  int
	scale     float64
	clientCmd string
	mutants   bool
	toxi      string
	verbose   bool
	outside   outsideConfig
	up        upstreamFlags // upstream.go
}

// subject is one client the catalogue is held against.
type subject struct {
	info   result.Client
	mutate func(*client.Options)
	expect harness.Expect // for a mutant: the checks that must catch it
}

// job is one scenario against one subject.
type job struct {
	sc  harness.Scenario
	sub int
}

// plan is what a run will do.
type plan struct {
	list       []harness.Scenario
	subjects   []subject
	jobs       []job
	command    []string
	supervisor []string
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseRun(args, stderr)
	if !ok {
		return code
	}
	p, err := cfg.plan(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos run:", err)
		return exitUsage
	}
	mode, toxVersion, err := probeToxiproxy(ctx, cfg.toxi)
	if err == nil {
		err = cfg.up.probe(ctx, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "wschaos run:", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "wschaos %s: %d runs (%d scenarios, %d clients), seed %d, time scale %g, Toxiproxy %s (%s)\n",
		version(), len(p.jobs), len(p.list), len(p.subjects), cfg.seed, cfg.scale, mode, toxVersion)
	started := time.Now()
	results := cfg.execute(ctx, p, stderr)
	res := &result.Result{
		GeneratedAt: time.Now().UTC(),
		Run: result.RunInfo{
			Version: version(), GoVersion: runtime.Version(), ToxiproxyMode: mode, ToxiproxyVersion: toxVersion,
			Seed: cfg.seed, Command: cfg.replay(), DurationMS: float64(time.Since(started)) / float64(time.Millisecond),
			Timescale: cfg.scale, Interrupted: ctx.Err() != nil, Upstream: cfg.up.url(),
		},
		Scenarios: results,
	}
	expect := map[string]harness.Expect{}
	for _, sub := range p.subjects {
		sub.info.Plain = sub.info.Plain || (sub.info.Outside && plainClient(sub.info.Name, results))
		res.Clients = append(res.Clients, sub.info)
		if sub.info.Mutant {
			expect[sub.info.Name] = sub.expect
		}
	}
	harness.Conclude(res, expect)
	printResults(stdout, res)
	if err := reports.WriteFiles(cfg.out, res); err != nil {
		fmt.Fprintln(stderr, "wschaos run: writing the report:", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "\n%s. Report: %s\nReplay: %s\n", verdictLine(res), filepath.Join(cfg.out, reports.HTMLFile), res.Run.Command)
	return exitFor(res.Verdict)
}

// parseRun reads and checks the flags before any work, so that a mistake
// costs nothing: the output directory must be writable, the command not
// empty, the numbers in range.
func parseRun(args []string, stderr io.Writer) (runConfig, int, bool) {
	fs := newFlagSet("run", stderr, "run [flags]")
	var cfg runConfig
	fs.StringVar(&cfg.out, "out", "wschaos-report", "directory for result.json, index.html and junit.xml (created if missing)")
	fs.StringVar(&cfg.pattern, "scenario", "", "run only the scenarios whose name matches this regular expression")
	fs.Int64Var(&cfg.seed, "seed", 0, "seed for jitter and workload (0 picks one at random and prints it)")
	fs.IntVar(&cfg.parallel, "parallel", 8, fmt.Sprintf("how many scenarios run at once (1 to %d)", maxParallel))
	fs.Float64Var(&cfg.scale, "timescale", 1, fmt.Sprintf("multiply every duration of the client profile and the fault schedule, and so every bound, by this (%g to %g); a declared profile is taken as it is", minTimescale, float64(maxTimescale)))
	fs.StringVar(&cfg.clientCmd, "client-cmd", "", "hold this shell command to the catalogue instead of the reference client: it is started once per client in each scenario with WSCHAOS_URL (its own tap, path /ws/<id>), WSCHAOS_CLIENT_ID, WSCHAOS_SEED (and WSCHAOS_CA_FILE over wss) and measured from the wire; it need not speak the wschaos protocol")
	fs.BoolVar(&cfg.mutants, "mutants", false, "also run every mutant (deliberately broken) client against the scenarios meant to catch it; passes only if each is caught by its named checks and the reference client passes")
	fs.StringVar(&cfg.toxi, "toxiproxy", os.Getenv("TOXIPROXY_URL"), "API URL of an external toxiproxy-server (default $TOXIPROXY_URL; empty embeds Toxiproxy)")
	fs.BoolVar(&cfg.verbose, "v", false, "log progress of each scenario")
	addOutsideFlags(fs, &cfg.outside)
	cfg.up.register(fs)
	if code, ok := parse(fs, args, 0); !ok {
		return cfg, code, false
	}
	if err := cfg.check(fs); err != nil {
		fmt.Fprintln(stderr, "wschaos run:", err)
		return cfg, exitUsage, false
	}
	if cfg.seed == 0 {
		cfg.seed = rand.Int64N(1<<31-1) + 1
	}
	return cfg, 0, true
}

func (cfg *runConfig) check(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case cfg.parallel < 1 || cfg.parallel > maxParallel:
		return fmt.Errorf("--parallel %d: want 1 to %d", cfg.parallel, maxParallel)
	case !(cfg.scale >= minTimescale && cfg.scale <= maxTimescale):
		return fmt.Errorf("--timescale %v: want %g to %g (below %g every bound is shorter than a busy machine's scheduling)", cfg.scale, minTimescale, float64(maxTimescale), minTimescale)
	case set["client-cmd"] && strings.TrimSpace(cfg.clientCmd) == "":
		return errors.New("--client-cmd is empty: give the shell command that starts your client, such as --client-cmd 'node client.js'")
	case cfg.clientCmd != "" && cfg.mutants:
		return errors.New("--mutants and --client-cmd do not mix: mutants are variants of the reference client")
	}
	if _, err := regexp.Compile(cfg.pattern); err != nil {
		return fmt.Errorf("--scenario %q is not a valid regular expression: %w", cfg.pattern, err)
	}
	if err := cfg.outside.resolve(fs, cfg.scale, cfg.clientCmd != "", cfg.mutants); err != nil {
		return err
	}
	if err := cfg.up.check(set, cfg); err != nil {
		return err
	}
	return prepareOut(cfg.out)
}

// prepareOut makes sure the report can be written before the run starts:
// dir is a directory (created if missing) in which a file can be created.
func prepareOut(dir string) error {
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return fmt.Errorf("--out %s is a file; want a directory for result.json, index.html and junit.xml", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".wschaos-write-test-*")
	if err != nil {
		return fmt.Errorf("--out %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// plan selects the scenarios and the clients, and pairs them into jobs:
// every scenario against the reference client (or the outside command),
// and each mutant against the scenarios named to catch it.
func (cfg *runConfig) plan(stderr io.Writer) (plan, error) {
	var p plan
	list, err := selectScenarios(cfg.pattern, scenarios.Options{Scale: cfg.scale, Profile: cfg.outside.declared, Clients: cfg.outside.clients})
	if err != nil {
		return p, err
	}
	main := subject{info: result.Client{Name: "reference", Description: "the reference client (package client) with the scenario's profile",
		Profile: harness.ProfileOf(optionsOf(scenarios.ProfileAt(cfg.scale)))}}
	if cfg.clientCmd != "" {
		p.command = []string{"/bin/sh", "-c", cfg.clientCmd}
		p.supervisor = supervisor(stderr)
		main = subject{info: result.Client{Name: "outside: " + cfg.clientCmd, Outside: true, Command: cfg.clientCmd,
			Description: "an outside client, measured through the wire tap and the fake server; message continuity is not applicable"}}
	}
	if d := cfg.outside.declaredProfile(); d != nil {
		main.info.Profile = d
		main.info.Description += "; held to the profile it declares"
	}
	main.info = cfg.up.subject(main.info)
	p.list, p.subjects = list, []subject{main}
	for _, sc := range list {
		p.jobs = append(p.jobs, job{sc: sc, sub: 0})
	}
	if cfg.mutants {
		for _, m := range scenarios.Mutants() {
			p.subjects = append(p.subjects, subject{info: result.Client{Name: m.Name, Description: m.Description, Mutant: true},
				mutate: m.Mutate, expect: m.CaughtBy})
			for _, sc := range list {
				if _, named := m.CaughtBy[sc.Name]; named {
					p.jobs = append(p.jobs, job{sc: sc, sub: len(p.subjects) - 1})
				}
			}
		}
	}
	return p, nil
}

// optionsOf is the profile with the client's defaults applied.
func optionsOf(o client.Options) client.Options {
	c, err := client.New("ws://127.0.0.1/ws", o)
	if err != nil {
		return o
	}
	return c.Options()
}

func selectScenarios(pattern string, opts scenarios.Options) ([]harness.Scenario, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("--scenario %q is not a valid regular expression: %w", pattern, err)
	}
	all, err := scenarios.CatalogFor(opts)
	if err != nil {
		return nil, err
	}
	var out []harness.Scenario
	for _, sc := range all {
		if re.MatchString(sc.Name) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scenario %q matches no scenario; 'wschaos list' shows the names", pattern)
	}
	return out, nil
}

// execute runs the jobs, at most cfg.parallel at once (a scenario with many
// clients weighs more), printing a line as each finishes. A job that never
// started because the run was interrupted is recorded as not run.
func (cfg *runConfig) execute(ctx context.Context, p plan, stderr io.Writer) []result.Scenario {
	logger := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	results := make([]result.Scenario, len(p.jobs))
	sem := newWeighted(cfg.parallel)
	var wg sync.WaitGroup
	var printMu sync.Mutex
	done := 0
	for i, j := range p.jobs {
		sub := p.subjects[j.sub]
		wg.Go(func() {
			// A scenario with many clients takes a slot per ten of them,
			// so several herds do not starve each other's timers.
			cost := min(cfg.parallel, max(1, (j.sc.Clients+9)/10))
			if !sem.acquire(ctx, cost) {
				results[i] = notRun(j.sc, sub.info.Name, "the run was interrupted before this scenario started")
				return
			}
			defer sem.release(cost)
			results[i] = harness.Run(ctx, j.sc, harness.RunOptions{
				ToxiproxyURL: cfg.toxi, Seed: cfg.seed, Logger: logger, ClientName: sub.info.Name, Mutate: sub.mutate,
				Command: p.command, Supervisor: p.supervisor, Upstream: cfg.up.server,
			})
			printMu.Lock()
			done++
			fmt.Fprintf(stderr, "[%d/%d] %-22s %-22s %s\n", done, len(p.jobs), j.sc.Name, sub.info.Name, strings.ToUpper(string(results[i].Verdict)))
			printMu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "wschaos run: interrupted; writing what was measured (interrupted scenarios are marked, unstarted ones not run)")
	}
	return results
}

func notRun(sc harness.Scenario, clientName, why string) result.Scenario {
	return harness.NotRun(sc, clientName, why)
}

// replay is the command line that runs the same again, quoted for a POSIX
// shell so that pasting it runs nothing else.
func (cfg *runConfig) replay() string {
	words := []string{"wschaos", "run", "--seed", strconv.FormatInt(cfg.seed, 10)}
	if cfg.pattern != "" {
		words = append(words, "--scenario", cfg.pattern)
	}
	if cfg.scale != 1 {
		words = append(words, "--timescale", strconv.FormatFloat(cfg.scale, 'g', -1, 64))
	}
	if cfg.mutants {
		words = append(words, "--mutants")
	}
	if cfg.clientCmd != "" {
		words = append(words, "--client-cmd", cfg.clientCmd)
	}
	words = append(words, cfg.outside.replayArgs()...)
	words = append(words, cfg.up.words()...)
	return commandLine(words...)
}
