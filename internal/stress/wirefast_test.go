package stress

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

func messageWire(t int64, src result.Source, kind result.Kind, client string, seq uint64) wire {
	return wire{Type: wireEvent, T: t, Ev: &result.Event{Source: src, Kind: kind, Client: client, Seq: seq}}
}

// TestAppendMessageIsJSON: the fast form is byte for byte what
// encoding/json writes, and reads back as decodeStrict reads it.
func TestAppendMessageIsJSON(t *testing.T) {
	for _, m := range []wire{
		messageWire(1, result.SourceClient, result.KindSent, "c1", 1),
		messageWire(1795957494451196117, result.SourceClient, result.KindReceived, "c20000", 12345),
		messageWire(math.MaxInt64, result.SourceServer, result.KindRecv, "c9", math.MaxUint64),
		messageWire(999_999_999_999_999_999, result.SourceServer, result.KindSend, "c2_x-Y", math.MaxInt64),
	} {
		want, err := json.Marshal(m)
		require.NoError(t, err)
		got, ok := appendMessage([]byte("kept "), m.T, m.Ev.Source, m.Ev.Kind, m.Ev.Client, m.Ev.Seq)
		require.True(t, ok, "%s", want)
		assert.Equal(t, "kept "+string(want), string(got))

		var strict wire
		require.NoError(t, decodeStrict(want, &strict))
		if fast, ok := parseMessage(want); ok {
			assert.Equal(t, strict, fast)
		} else {
			// Only a number past math.MaxInt64 is left to decodeStrict.
			assert.Greater(t, m.Ev.Seq, uint64(math.MaxInt64), "%s", want)
		}
		if m.Ev.Source == result.SourceServer && strings.Trim(m.Ev.Client, "c0123456789") == "" {
			w, err := decodeWire(want, fromShard)
			require.NoError(t, err)
			assert.Equal(t, m, w)
		}
	}
}

// TestAppendMessageRefuses: what the fast form cannot hold is left to
// encoding/json, and nothing is appended.
func TestAppendMessageRefuses(t *testing.T) {
	for name, m := range map[string]wire{
		"seq 0 is omitted":    messageWire(5, result.SourceClient, result.KindSent, "c1", 0),
		"no time":             messageWire(0, result.SourceClient, result.KindSent, "c1", 1),
		"negative time":       messageWire(-5, result.SourceClient, result.KindSent, "c1", 1),
		"no client":           messageWire(5, result.SourceClient, result.KindSent, "", 1),
		"a quote":             messageWire(5, result.SourceClient, result.KindSent, `c"1`, 1),
		"html escaping":       messageWire(5, result.SourceClient, result.KindSent, "c<1>", 1),
		"not ascii":           messageWire(5, result.SourceClient, result.KindSent, "cé", 1),
		"no kind":             messageWire(5, result.SourceClient, "", "c1", 1),
		"a space in a source": messageWire(5, "cli ent", result.KindSent, "c1", 1),
	} {
		got, ok := appendMessage([]byte("kept"), m.T, m.Ev.Source, m.Ev.Kind, m.Ev.Client, m.Ev.Seq)
		assert.False(t, ok, name)
		assert.Equal(t, "kept", string(got), name)
	}
}

// TestParseMessageLeavesTheRestToStrict: any line but the exact fast form
// is not read by the fast path, so decodeStrict (and its errors) decide.
func TestParseMessageLeavesTheRestToStrict(t *testing.T) {
	good := `{"type":"ev","t":17,"ev":{"t_ms":0,"source":"client","kind":"sent","client":"c1","seq":5}}`
	_, ok := parseMessage([]byte(good))
	require.True(t, ok)
	for name, line := range map[string]string{
		"a space":           strings.Replace(good, `"t":17`, `"t": 17`, 1),
		"fields reordered":  `{"t":17,"type":"ev","ev":{"t_ms":0,"source":"client","kind":"sent","client":"c1","seq":5}}`,
		"t_ms set":          strings.Replace(good, `"t_ms":0`, `"t_ms":1`, 1),
		"t_ms as 0.0":       strings.Replace(good, `"t_ms":0`, `"t_ms":0.0`, 1),
		"a leading zero":    strings.Replace(good, `"seq":5`, `"seq":05`, 1),
		"seq 0":             strings.Replace(good, `"seq":5`, `"seq":0`, 1),
		"t 0":               strings.Replace(good, `"t":17`, `"t":0`, 1),
		"a negative t":      strings.Replace(good, `"t":17`, `"t":-17`, 1),
		"an exponent":       strings.Replace(good, `"seq":5`, `"seq":5e2`, 1),
		"a fraction":        strings.Replace(good, `"seq":5`, `"seq":5.5`, 1),
		"past MaxInt64":     strings.Replace(good, `"seq":5`, `"seq":9223372036854775808`, 1),
		"20 digits":         strings.Replace(good, `"t":17`, `"t":12345678901234567890`, 1),
		"an escape":         strings.Replace(good, `"c1"`, `"c\u0031"`, 1),
		"an empty client":   strings.Replace(good, `"c1"`, `""`, 1),
		"one more field":    strings.Replace(good, `"seq":5}`, `"seq":5,"conn":2}`, 1),
		"trailing bytes":    good + " ",
		"a second object":   good + good,
		"cut short":         good[:len(good)-1],
		"unterminated":      good[:strings.Index(good, `c1`)+1],
		"another line type": `{"type":"stats","t":17,"worker":1,"stats":{}}`,
		"empty":             "",
	} {
		_, ok := parseMessage([]byte(line))
		assert.False(t, ok, "%s: %s", name, line)
	}
}

// TestSendMessageBothWays: a line the fast form holds and one it does not
// both reach the coordinator as the same event.
func TestSendMessageBothWays(t *testing.T) {
	var out bytes.Buffer
	lw := newLineWriter(&out)
	at := time.Unix(0, 1795957494451196117)
	lw.sendMessage(at, result.SourceServer, result.KindRecv, "c7", 3)
	lw.sendMessage(at, result.SourceServer, result.KindRecv, "c7", 0) // seq 0: encoding/json
	require.NoError(t, lw.flush())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	_, fast := parseMessage([]byte(lines[0]))
	assert.True(t, fast)
	got, err := decodeWire([]byte(lines[0]), fromShard)
	require.NoError(t, err)
	assert.Equal(t, messageWire(at.UnixNano(), result.SourceServer, result.KindRecv, "c7", 3), got)
	_, fast = parseMessage([]byte(lines[1]))
	assert.False(t, fast)
	var w wire
	require.NoError(t, decodeStrict([]byte(lines[1]), &w))
	assert.Equal(t, messageWire(at.UnixNano(), result.SourceServer, result.KindRecv, "c7", 0), w)
}

// FuzzParseMessage: whatever the fast path reads, decodeStrict reads the
// same way.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"type":"ev","t":17,"ev":{"t_ms":0,"source":"client","kind":"sent","client":"c1","seq":5}}`))
	f.Add([]byte(`{"type":"ev","t":999999999999999999,"ev":{"t_ms":0,"source":"server","kind":"recv","client":"c20000","seq":1}}`))
	f.Add([]byte(`{"type":"ev","t":1,"ev":{"t_ms":0,"source":"a","kind":"b","client":"c","seq":1}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, ok := parseMessage(line)
		if !ok {
			return
		}
		var strict wire
		require.NoError(t, decodeStrict(line, &strict), "the fast path read %q", line)
		assert.Equal(t, strict, fast)
	})
}

// BenchmarkMessageLine: the fast path against encoding/json for one
// message event line, each way, measured in turn in every iteration.
// json/fast is how many times longer encoding/json takes.
func BenchmarkMessageLine(b *testing.B) {
	m := messageWire(1795957494451196117, result.SourceClient, result.KindReceived, "c12345", 678)
	line, _ := json.Marshal(m)
	var buf []byte
	var took [4]time.Duration
	for b.Loop() {
		steps := []func(){
			func() { buf, _ = appendMessage(buf[:0], m.T, m.Ev.Source, m.Ev.Kind, m.Ev.Client, m.Ev.Seq) },
			func() { buf, _ = json.Marshal(m) },
			func() { _, _ = parseMessage(line) },
			func() {
				var w wire
				_ = decodeStrict(line, &w)
			},
		}
		for i, step := range steps {
			start := time.Now()
			for range 100 {
				step()
			}
			took[i] += time.Since(start)
		}
	}
	b.ReportMetric(float64(took[1])/float64(took[0]), "encode-json/fast")
	b.ReportMetric(float64(took[3])/float64(took[2]), "decode-json/fast")
}

func TestClipMiddle(t *testing.T) {
	assert.Equal(t, "short", clipMiddle("short", 120))
	long := "failed to WebSocket dial: failed to send handshake request: Get \"http://127.0.0.1:41234/ws/c1\": read tcp 127.0.0.1:5->127.0.0.1:41234: read: connection reset by peer"
	got := clipMiddle(long, 90)
	assert.Len(t, got, 93)
	assert.True(t, strings.HasPrefix(got, "failed to WebSocket dial"), got)
	assert.True(t, strings.HasSuffix(got, "read: connection reset by peer"), got)
}
