package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wschaos/wschaos/internal/stress"
	"github.com/wschaos/wschaos/reports"
	"github.com/wschaos/wschaos/result"
)

// stressFile is the name of the full stress aggregates next to result.json.
const stressFile = "stress.json"

func cmdStress(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("stress", stderr, "stress --clients N [--duration D] [--seed S] [--out DIR] [--timescale K] [--workers W] [--toxiproxy URL]")
	clients := fs.Int("clients", 0, "how many reference clients (required)")
	duration := fs.Duration("duration", 60*time.Second, "how long the fault schedule runs, from the moment every client is warm")
	seed := fs.Int64("seed", 0, "seed for the fault schedule, jitter and workload (0 picks one at random and prints it)")
	out := fs.String("out", "wschaos-stress", "directory for result.json, index.html, junit.xml and "+stressFile)
	timescale := fs.Float64("timescale", 1, "multiply every duration of the client profile and the fault schedule (3 gives a 30s heartbeat)")
	workers := fs.Int("workers", 0, fmt.Sprintf("worker processes (0: one per %d clients)", stress.ClientsPerWorker))
	inProcess := fs.Bool("in-process", false, "run the clients in this process instead of worker processes")
	toxi := fs.String("toxiproxy", os.Getenv("TOXIPROXY_URL"), "API URL of an external toxiproxy-server (default $TOXIPROXY_URL; empty embeds Toxiproxy)")
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if *clients < 1 {
		fmt.Fprintln(stderr, "wschaos stress: --clients is required: how many reference clients to run (1 or more)")
		fs.Usage()
		return exitUsage
	}
	if *seed == 0 {
		*seed = rand.Int64N(1<<31-1) + 1
	}
	lessGC()
	defer pprofFromEnv(stderr, "")()
	opts := stress.Options{
		Clients: *clients, Duration: *duration, Seed: *seed, Timescale: *timescale, Workers: *workers,
		InProcess: *inProcess, ToxiproxyURL: *toxi, Progress: stderr,
	}
	sched, err := stress.NewSchedule(*seed, *duration, *timescale)
	if err != nil {
		fmt.Fprintln(stderr, "wschaos stress:", err)
		return exitUsage
	}
	replay := fmt.Sprintf("wschaos stress --clients %d --duration %v --seed %d --timescale %g", *clients, *duration, *seed, *timescale)
	if *workers != 0 {
		replay += fmt.Sprintf(" --workers %d", *workers)
	}
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
			Version: version(), GoVersion: runtime.Version(), ToxiproxyMode: rep.ToxiproxyMode, ToxiproxyVersion: rep.ToxiproxyVersion,
			Seed: *seed, Command: replay, DurationMS: float64(time.Since(started)) / float64(time.Millisecond),
			Timescale: *timescale, Interrupted: ctx.Err() != nil,
		},
		Verdict:   rep.Scenario.Verdict,
		Summary:   stressSummary(rep.Scenario.Verdict),
		Scenarios: []result.Scenario{rep.Scenario},
	}
	printStress(stdout, rep)
	if err := reports.WriteFiles(*out, res); err != nil {
		fmt.Fprintln(stderr, "wschaos stress:", err)
		return exitFail
	}
	b, err := json.MarshalIndent(rep.Scenario.Stress, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(*out, stressFile), append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "wschaos stress:", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "\n%s: %d clients, seed %d. Report: %s\nReplay: %s\n",
		strings.ToUpper(string(res.Verdict)), *clients, *seed, filepath.Join(*out, "index.html"), replay)
	if res.Verdict != result.Pass || ctx.Err() != nil {
		return exitFail
	}
	return exitOK
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

func printStress(w io.Writer, rep *stress.Report) {
	st := rep.Scenario.Stress
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tAT\tFOR\tLOST CONN\tDETECT p50/p99/max\tREDIAL p50/p99/max\tRECOVER p50/p99/max\tATTEMPTS max\tPEAK READY/100ms")
	for i, f := range st.Faults {
		peak := 0
		for _, k := range f.ReconnectsPer100ms {
			peak = max(peak, k)
		}
		fmt.Fprintf(tw, "%d %s\t%.1fs\t%.1fs\t%d/%d\t%s\t%s\t%s\t%.0f\t%d\n", i+1, f.Kind, f.StartMS/1000, (f.EndMS-f.StartMS)/1000,
			f.Disconnected, st.Clients, dist(f.Detect), dist(f.Redial), dist(f.Recover), f.Attempts.Max, peak)
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
	for _, c := range rep.Scenario.Checks {
		if c.Failed() {
			failed = append(failed, fmt.Sprintf("  %s: got %s, want %s (%s)", c.Name, c.Got, c.Want, c.Margin))
		}
	}
	if rep.Scenario.Error != "" {
		failed = append(failed, "  error: "+rep.Scenario.Error)
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nfailed:\n%s\n", strings.Join(failed, "\n"))
	}
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
