package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/internal/stress"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

// stressFile is the name of the full stress aggregates next to result.json.
const stressFile = "stress.json"

// stressFlags are the flags of wschaos stress.
type stressFlags struct {
	clients, workers, chains         *int
	duration                         *time.Duration
	seed                             *int64
	out, proxy, shard, startAt, toxi *string
	timescale                        *float64
	inProcess                        *bool
}

func newStressFlags(stderr io.Writer) (*flag.FlagSet, stressFlags) {
	fs := newFlagSet("stress", stderr, "stress --clients N [--duration D] [--seed S] [--out DIR] [--timescale K] [--workers W] [--chain-shards K] [--proxy relay|toxiproxy] [--shard I/N --start-at TIME]")
	return fs, stressFlags{
		clients:   fs.Int("clients", 0, "how many reference clients (required; with --shard, in the whole split run)"),
		duration:  fs.Duration("duration", 60*time.Second, "how long the fault schedule runs, from the moment every client is warm"),
		seed:      fs.Int64("seed", 0, "seed for the fault schedule, jitter and workload (0 picks one at random and prints it)"),
		out:       fs.String("out", "wschaos-stress", "directory for result.json, index.html, junit.xml and "+stressFile),
		timescale: fs.Float64("timescale", 1, "multiply every duration of the client profile and the fault schedule (3 gives a 30s heartbeat)"),
		workers:   fs.Int("workers", 0, fmt.Sprintf("worker processes (0: one per %d clients)", stress.ClientsPerWorker)),
		chains:    fs.Int("chain-shards", 0, "chain shard processes, each with its own proxies and fake servers (0: enough that each stays within 60% of its descriptor limit)"),
		proxy:     fs.String("proxy", "", "what stands between clients and servers: relay (the harness's lean relay) or toxiproxy (default relay; toxiproxy with --toxiproxy)"),
		shard:     fs.String("shard", "", "run shard I of N (I from 0) of a run split over machines: its share of the clients, its own chain; merge the results with wschaos merge"),
		startAt:   fs.String("start-at", "", "with --shard: when the fault schedule starts, the same for every shard (RFC 3339, e.g. 2026-11-29T10:00:00Z)"),
		inProcess: fs.Bool("in-process", false, "run the clients and chain shards in this process instead of worker and shard processes"),
		toxi:      fs.String("toxiproxy", os.Getenv("TOXIPROXY_URL"), "API URL of an external toxiproxy-server for every chain shard (default $TOXIPROXY_URL; implies --proxy toxiproxy)"),
	}
}

func cmdStress(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newStressFlags(stderr)
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	clients, duration, seed, timescale := f.clients, f.duration, f.seed, f.timescale
	if *clients < 1 {
		fmt.Fprintln(stderr, "wschaos stress: --clients is required: how many reference clients to run (1 or more)")
		fs.Usage()
		return exitUsage
	}
	split, err := parseSplit(*f.shard, *f.startAt)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos stress:", err)
		return exitUsage
	}
	if *seed == 0 {
		if split != nil {
			fmt.Fprintln(stderr, "wschaos stress: --shard needs --seed: every shard of a run draws the same schedule")
			return exitUsage
		}
		*seed = rand.Int64N(1<<31-1) + 1
	}
	opts := stress.Options{
		Clients: *clients, Duration: *duration, Seed: *seed, Timescale: *timescale, Workers: *f.workers, ChainShards: *f.chains,
		Proxy: *f.proxy, InProcess: *f.inProcess, ToxiproxyURL: *f.toxi, Split: split, Progress: stderr,
	}
	sched, err := stress.NewSchedule(*seed, *duration, *timescale)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos stress:", err)
		return exitUsage
	}
	replay := stressReplay(*clients, *duration, *seed, *timescale, *f.workers, *f.chains, *f.proxy, *f.shard, *f.startAt)
	lessGC()
	defer pprofFromEnv(stderr, "")()
	var kinds []string
	for _, f := range sched.Faults {
		kinds = append(kinds, f.Kind)
	}
	fmt.Fprintf(stderr, "wschaos %s stress: %d clients, seed %d, timescale %g, %d faults: %s\n",
		version(), *clients, *seed, *timescale, len(sched.Faults), strings.Join(kinds, ", "))

	started := time.Now()
	rep, err := stress.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos stress:", err)
		return exitUsage
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "wschaos stress: interrupted; writing what was measured")
	}
	res := &result.Result{
		Schema:      result.Schema,
		GeneratedAt: time.Now().UTC(),
		Run: result.RunInfo{
			Version: version(), GoVersion: runtime.Version(), ToxiproxyMode: rep.ToxiproxyMode,
			Seed: *seed, Command: replay, DurationMS: float64(time.Since(started)) / float64(time.Millisecond),
			Timescale: *timescale, Interrupted: ctx.Err() != nil,
		},
		Verdict:   rep.Scenario.Verdict,
		Summary:   stressSummary(rep.Scenario.Verdict),
		Scenarios: []result.Scenario{rep.Scenario},
	}
	if rep.ToxiproxyMode == chaosnet.ModeEmbedded {
		res.Run.ToxiproxyVersion = toxiproxyModuleVersion()
	}
	code := writeStress(stdout, stderr, *f.out, res)
	if code == exitOK {
		fmt.Fprintf(stdout, "Replay: %s\n", replay)
	}
	if code == exitOK && (res.Verdict != result.Pass || ctx.Err() != nil) {
		return exitFail
	}
	return code
}

// writeStress prints a stress result and writes its report into dir.
func writeStress(stdout, stderr io.Writer, dir string, res *result.Result) int {
	sc := &res.Scenarios[0]
	printStress(stdout, sc)
	if err := reports.WriteFiles(dir, res); err != nil {
		fmt.Fprintln(stderr, "wschaos:", err)
		return exitFail
	}
	b, err := json.MarshalIndent(sc.Stress, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, stressFile), append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "wschaos:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "\n%s: %d clients, seed %d. Report: %s\n",
		strings.ToUpper(string(res.Verdict)), sc.Stress.Clients, sc.Stress.Seed, filepath.Join(dir, "index.html"))
	return exitOK
}

// parseSplit reads --shard I/N and --start-at.
func parseSplit(shard, startAt string) (*stress.Split, error) {
	if shard == "" {
		if startAt != "" {
			return nil, fmt.Errorf("--start-at %q without --shard: a scheduled start is for the shards of a split run", startAt)
		}
		return nil, nil
	}
	is, ns, ok := strings.Cut(shard, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, such as 0/4", shard)
	}
	sp := &stress.Split{Index: i, Of: n}
	if startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, startAt)
		if err != nil {
			return nil, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-11-29T10:00:00Z: %v", startAt, err)
		}
		sp.StartAt = t
	}
	return sp, nil
}

// stressReplay is the command line that replays a stress run.
func stressReplay(clients int, d time.Duration, seed int64, k float64, workers, chains int, proxy, shard, startAt string) string {
	replay := fmt.Sprintf("wschaos stress --clients %d --duration %v --seed %d --timescale %g", clients, d, seed, k)
	if workers != 0 {
		replay += fmt.Sprintf(" --workers %d", workers)
	}
	if chains != 0 {
		replay += fmt.Sprintf(" --chain-shards %d", chains)
	}
	for _, f := range [][2]string{{"--proxy", proxy}, {"--shard", shard}, {"--start-at", startAt}} {
		if f[1] != "" {
			replay += " " + f[0] + " " + shellQuote(f[1])
		}
	}
	return replay
}

// toxiproxyModuleVersion is the Toxiproxy module this binary embeds.
func toxiproxyModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/Shopify/toxiproxy/v2" {
				return d.Version
			}
		}
	}
	return ""
}

// stressSummary counts the stress run's one scenario by its verdict.
func stressSummary(v result.Verdict) result.Summary {
	var s result.Summary
	switch v {
	case result.Pass:
		s.Passed = 1
	case result.Fail:
		s.Failed = 1
	case result.NotApplicable:
		s.NotApplicable = 1
	case result.Interrupted:
		s.Interrupted = 1
	case result.NotRun:
		s.NotRun = 1
	}
	return s
}

func printStress(w io.Writer, sc *result.Scenario) {
	st := sc.Stress
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tAT\tFOR\tLOST CONN\tDETECT p50/p99/max\tREDIAL p50/p99/max\tRECOVER p50/p99/max\tATTEMPTS max\tPEAK READY/100ms\tSHARD SKEW start/end")
	for i, f := range st.Faults {
		peak := 0
		for _, k := range f.ReconnectsPer100ms {
			peak = max(peak, k)
		}
		fmt.Fprintf(tw, "%d %s\t%.1fs\t%.1fs\t%d/%d\t%s\t%s\t%s\t%.0f\t%d\t%s\n", i+1, f.Kind, f.StartMS/1000, (f.EndMS-f.StartMS)/1000,
			f.Disconnected, st.Clients, dist(f.Detect), dist(f.Redial), dist(f.Recover), f.Attempts.Max, peak, skew(f))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nmessages up: %d sent, %d lost, %d duplicated; down: %d delivered, %d lost, %d duplicated; reconnects %d\n",
		st.Up.Sent, st.Up.Lost, st.Up.Duplicated, st.Down.Delivered, st.Down.Lost, st.Down.Duplicated, st.Reconnects)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPROCESS\tCLIENTS\tCPU\tPEAK RSS\tPEAK GOROUTINES\tPEAK FDS\tFD LIMIT")
	for _, r := range st.Resources {
		fmt.Fprintf(tw, "%s\t%d\t%.1fs\t%.0f MiB\t%d\t%d\t%d\n", r.Process, r.Clients, r.CPUSeconds, float64(r.PeakRSSBytes)/(1<<20), r.PeakGoroutines, r.PeakFDs, r.FDLimit)
	}
	tw.Flush()
	var failed []string
	for _, c := range sc.Checks {
		if c.Failed() {
			failed = append(failed, fmt.Sprintf("  %s: got %s, want %s (%s)", c.Name, c.Got, c.Want, c.Margin))
		}
	}
	if sc.Error != "" {
		failed = append(failed, "  error: "+sc.Error)
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nfailed:\n%s\n", strings.Join(failed, "\n"))
	}
}

// skew is how far apart the chain shards began a fault and its end.
func skew(f result.StressFault) string {
	if len(f.Shards) < 2 {
		return "-"
	}
	if f.EndSkewMS == 0 && f.Shards[0].StopMS == 0 {
		return fmt.Sprintf("%.1f ms", f.StartSkewMS)
	}
	return fmt.Sprintf("%.1f/%.1f ms", f.StartSkewMS, f.EndSkewMS)
}

func dist(d result.Distribution) string {
	if d.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0f/%.0f ms", d.P50, d.P99, d.Max)
}

// cmdWorker is the hidden subcommand the stress coordinator starts: it
// reads its configuration and commands as JSON lines on stdin and streams
// its clients' events as JSON lines on stdout.
func cmdWorker(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("worker", stderr, "worker (started by 'wschaos stress'; speaks JSON lines on stdin and stdout)")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	lessGC()
	defer pprofFromEnv(stderr, fmt.Sprintf("worker-%d-", os.Getpid()))()
	if err := stress.RunWorker(ctx, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "wschaos worker:", err)
		return exitFail
	}
	return exitOK
}

// cmdShard is the hidden subcommand the stress coordinator starts for each
// chain shard: it reads its configuration and commands as JSON lines on
// stdin and streams its servers' message events and fault steps as JSON
// lines on stdout.
func cmdShard(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("shard", stderr, "shard (started by 'wschaos stress'; speaks JSON lines on stdin and stdout)")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	lessGC()
	defer pprofFromEnv(stderr, fmt.Sprintf("shard-%d-", os.Getpid()))()
	if err := stress.RunShard(ctx, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "wschaos shard:", err)
		return exitFail
	}
	return exitOK
}

// lessGC trades memory for CPU unless GOGC says otherwise: a stress process
// holds tens of thousands of goroutines whose stacks every collection scans,
// and memory is the cheaper resource on the machines it runs on.
func lessGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// pprofFromEnv profiles the process when WSCHAOS_PPROF_DIR is set (a
// hidden diagnostic): cpu.pprof, mutex.pprof, block.pprof and
// goroutine.pprof, each name after prefix (workers inherit the variable and
// use "worker-PID-"), are written there when the run ends. It returns the
// function that writes them.
func pprofFromEnv(stderr io.Writer, prefix string) func() {
	dir := os.Getenv("WSCHAOS_PPROF_DIR")
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "wschaos stress: pprof:", err)
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, prefix+"cpu.pprof"))
	if err != nil {
		fmt.Fprintln(stderr, "wschaos stress: pprof:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(stderr, "wschaos stress: pprof:", err)
		f.Close()
		return func() {}
	}
	runtime.SetMutexProfileFraction(10)
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		for _, name := range []string{"mutex", "block", "goroutine"} {
			if pf, err := os.Create(filepath.Join(dir, prefix+name+".pprof")); err == nil {
				_ = pprof.Lookup(name).WriteTo(pf, 0)
				pf.Close()
			}
		}
	}
}
