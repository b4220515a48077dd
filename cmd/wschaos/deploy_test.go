package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// flagNames are the --flags given to `wschaos CMD` in a command line.
func flagNames(t *testing.T, line, cmd string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(line, " "+cmd+" ")
	require.True(t, ok, "no wschaos %s in %q", cmd, line)
	var names []string
	for _, f := range strings.Fields(rest) {
		if name, ok := strings.CutPrefix(f, "--"); ok {
			names = append(names, strings.SplitN(name, "=", 2)[0])
		}
	}
	return names
}

// checkFlags: every flag a manifest gives the command is one it has.
func checkFlags(t *testing.T, line, cmd string, want ...string) {
	t.Helper()
	var lookup func(string) bool
	switch cmd {
	case "stress":
		fs, _ := newStressFlags(io.Discard)
		lookup = func(n string) bool { return fs.Lookup(n) != nil }
	case "merge":
		fs, _, _ := newMergeFlags(io.Discard)
		lookup = func(n string) bool { return fs.Lookup(n) != nil }
	}
	names := flagNames(t, line, cmd)
	for _, n := range names {
		assert.True(t, lookup(n), "wschaos %s has no --%s (in %q)", cmd, n, line)
	}
	for _, n := range want {
		assert.Contains(t, names, n, "wschaos %s without --%s", cmd, n)
	}
}

// TestIndexedJobManifest: the Kubernetes manifests run one shard per
// index of an Indexed Job, with the flags wschaos has, and merge them.
func TestIndexedJobManifest(t *testing.T) {
	b, err := os.ReadFile("../../deploy/stress-job.yaml")
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var job map[string]any
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		if doc["kind"] == "Job" {
			job = doc
		}
	}
	require.NotNil(t, job, "a Job in the manifest")
	spec := job["spec"].(map[string]any)
	assert.Equal(t, "Indexed", spec["completionMode"])
	assert.Equal(t, spec["completions"], spec["parallelism"], "every shard at once: they share one scheduled start")
	ctr := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	line := " " + ctr["args"].([]any)[0].(string)
	assert.Contains(t, line, `--shard "$JOB_COMPLETION_INDEX/$SHARDS"`, "the completion index is the shard index")
	checkFlags(t, line, "stress", "clients", "seed", "shard", "start-at", "out")

	b, err = os.ReadFile("../../deploy/stress-merge-job.yaml")
	require.NoError(t, err)
	var merge map[string]any
	require.NoError(t, yaml.Unmarshal(b, &merge))
	args := merge["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"].([]any)
	checkFlags(t, " "+args[0].(string), "merge", "out")
}

// TestSplitWorkflow: the GitHub Actions matrix runs one shard per job with
// the seed, the shard index and the start from the plan, and merges.
func TestSplitWorkflow(t *testing.T) {
	b, err := os.ReadFile("../../.github/workflows/stress.yml")
	require.NoError(t, err)
	var wf struct {
		Jobs map[string]struct {
			Needs    any `yaml:"needs"`
			Strategy struct {
				Matrix map[string]any `yaml:"matrix"`
			} `yaml:"strategy"`
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	run := func(job, cmd string) string {
		for _, s := range wf.Jobs[job].Steps {
			if line := strings.ReplaceAll(s.Run, "\\\n", " "); strings.Contains(line, " "+cmd+" ") {
				return expr.ReplaceAllString(line, "X")
			}
		}
		t.Fatalf("job %s runs no wschaos %s", job, cmd)
		return ""
	}
	shard := wf.Jobs["split-shard"]
	assert.Contains(t, shard.Strategy.Matrix, "shard")
	line := run("split-shard", "stress")
	checkFlags(t, line, "stress", "clients", "seed", "shard", "start-at", "out")
	checkFlags(t, run("split-merge", "merge"), "merge", "out")
	raw := string(b)
	for _, want := range []string{"needs.split-plan.outputs.seed", "matrix.shard }}/${{ needs.split-plan.outputs.shards", "needs.split-plan.outputs.start_at"} {
		assert.Contains(t, raw, want)
	}
}
