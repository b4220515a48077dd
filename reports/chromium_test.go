//go:build unix

package reports

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

// externalRef matches a src or href attribute, or a CSS url() or @import,
// that points off the page: to http(s) or a protocol-relative //host.
var externalRef = regexp.MustCompile(`(?i)((src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import)`)

// TestHTMLInChromium loads the golden report in a real browser and checks
// that the DOM it builds holds the SVG timelines and charts.
func TestHTMLInChromium(t *testing.T) {
	dom := domInChromium(t, fixedResult())
	if got := strings.Count(dom, `<svg class="chart timeline"`); got != 8 {
		t.Errorf("got %d timeline SVGs in the DOM, want 8", got)
	}
	if got := strings.Count(dom, `<svg class="chart backoff"`); got != 3 {
		t.Errorf("got %d delay charts in the DOM, want 3", got)
	}
	for _, want := range []string{`class="fault"`, `class="m-disconnected"`, `class="budget over"`, `id="s-PongWithheld--bot"`,
		`<table class="matrix"`, `<svg class="chart cdf"`, `<svg class="chart herd"`, `class="envelope"`, `class="d-out wire"`,
		`class="link-drops"`, `class="problem interrupted"`, `class="banner fail"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %s", want)
		}
	}
}

// TestStressHTMLInChromium does the same for a stress run's figures.
func TestStressHTMLInChromium(t *testing.T) {
	dom := domInChromium(t, stressResult())
	if got := strings.Count(dom, `<svg class="chart cdf reconnects"`); got != 2 {
		t.Errorf("got %d reconnect histograms in the DOM, want 2", got)
	}
	for _, want := range []string{`<table class="stress">`, `<table class="resources">`, `id="s-Stress--reference-f3"`, `class="limit"`, `class="herd-first"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %s", want)
		}
	}
}

// domInChromium writes r's page, loads it in headless Chromium and returns
// the DOM the browser built, having checked that it holds no script, that
// neither the page nor the DOM refers to anything outside itself and that
// the console stayed quiet. It skips the test when there is no Chromium.
func domInChromium(t *testing.T, r *result.Result) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH; apt-get install chromium to run this test")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "index.html")
	var html bytes.Buffer
	require.NoError(t, WriteHTML(&html, r))
	require.NoError(t, os.WriteFile(page, html.Bytes(), 0o644))

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0",
		"--dump-dom", "file://"+page)
	// Chromium forks helpers (zygote, renderer, GPU); put them all in one
	// process group so a timeout or the end of the test ends every one.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	err = cmd.Wait()
	require.NoError(t, err, "chromium failed; stderr:\n%s", stderr.String())

	dom := stdout.String()
	require.Contains(t, dom[:min(len(dom), 200)], "<html", "dump-dom printed no document")
	// Escaped markup in a description or detail must stay text in the DOM.
	if strings.Contains(dom, "<script") {
		t.Errorf("DOM holds a script element")
	}
	for name, doc := range map[string]string{"page": html.String(), "DOM": dom} {
		if m := externalRef.FindString(doc); m != "" {
			t.Errorf("%s refers to an outside resource: %q", name, m)
		}
		for _, scheme := range []string{"http://", "https://"} {
			if strings.Contains(doc, scheme) {
				t.Errorf("%s mentions %s", name, scheme)
			}
		}
	}
	for line := range strings.Lines(stderr.String()) {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("browser console: %s", strings.TrimSpace(line))
		}
	}
	return dom
}
