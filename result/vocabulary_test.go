package result

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/events.md from the vocabulary")

// eventsDoc renders the vocabulary as the page docs/events.md.
func eventsDoc() string {
	var b strings.Builder
	b.WriteString("# Events\n\n")
	b.WriteString("Every component of a wschaos run records events from one vocabulary, listed here. ")
	b.WriteString("This page is generated from `result.Vocabulary` (`go test ./result -update`); ")
	b.WriteString("an event's kind belongs to exactly one source, and every figure it carries is a typed field of `result.Event`. ")
	b.WriteString("`text` is for people and never needed to read a figure. Client events marked `\"via\": \"wire\"` ")
	b.WriteString("were read off the wire tap and the fake server for an outside client.\n")
	var src Source
	for _, k := range Vocabulary() {
		if k.Source != src {
			src = k.Source
			fmt.Fprintf(&b, "\n## Source `%s`\n\n| kind | fields | meaning |\n|---|---|---|\n", src)
		}
		fields := k.Fields
		if fields == "" {
			fields = "-"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Kind, fields, k.Doc)
	}
	b.WriteString("\n## Causes\n\n")
	for _, c := range []Cause{CauseHeartbeat, CauseAckTimeout, CauseReadError, CauseCloseFrame, CauseWriteError, CauseDialError,
		CauseHandshakeTimeout, CauseHTTPStatus, CauseProtocolError, CauseStopped, CauseOutboxFull, CauseSocketClosed, CauseRedialed, CauseNetwork} {
		fmt.Fprintf(&b, "- `%s`\n", c)
	}
	b.WriteString("\nThe meaning of each cause is in the doc comments of `result.Cause`.\n")
	return b.String()
}

func TestEventsDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "events.md")
	want := eventsDoc()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./result -update to write it")
	assert.Equal(t, want, string(got), "docs/events.md is stale: run go test ./result -update")
}

// Every kind belongs to one source, is documented, and appears once.
func TestVocabulary(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Vocabulary() {
		assert.False(t, seen[k.Kind], "kind %q listed twice", k.Kind)
		seen[k.Kind] = true
		assert.NotEmpty(t, k.Doc, k.Kind)
		assert.Contains(t, []Source{SourceClient, SourceServer, SourceTap, SourceLink, SourceHarness}, k.Source, k.Kind)
		assert.Equal(t, k.Source, k.Kind.Source())
		assert.True(t, k.Kind.Known())
	}
	assert.False(t, Kind("closed").Known(), "the old ambiguous kind is gone")
	assert.Equal(t, Source(""), Kind("nope").Source())
}

func TestCloseCodeString(t *testing.T) {
	assert.Equal(t, "1006 abnormal closure", CloseCode(1006).String())
	assert.Equal(t, "4999", CloseCode(4999).String())
}
