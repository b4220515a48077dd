package stress

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/wschaos/wschaos/harness"
)

// TestShardProtocol drives a chain shard over its pipes: it reports its
// proxies, applies a step at the moment asked, applies a waiting step at
// once when hurried, reports a bad command without obeying it, and says bye.
func TestShardProtocol(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := RunShard(context.Background(), inR, outW)
		outW.Close()
		done <- err
	}()
	lines := bufio.NewScanner(outR)
	next := func(typ string) wire {
		t.Helper()
		for lines.Scan() {
			w, err := decodeWire(lines.Bytes(), fromShard)
			require.NoError(t, err)
			if w.Type == typ {
				return w
			}
		}
		t.Fatalf("no %s line", typ)
		return wire{}
	}
	send := func(v any) {
		b, _ := json.Marshal(v)
		_, err := inW.Write(append(b, '\n'))
		require.NoError(t, err)
	}
	send(ShardConfig{Chain: 2, Proxies: 2, Timescale: 1, Proxy: ProxyRelay, RunID: "t"})
	hello := next(wireHello)
	require.Len(t, hello.URLs, 2)
	addr := strings.TrimSuffix(strings.TrimPrefix(hello.URLs[0], "ws://"), "/ws")

	down := Planned{Kind: h.FaultProxyDown, For: time.Hour}
	at := time.Now().Add(200 * time.Millisecond)
	send(shardCommand{Cmd: cmdFault, Fault: 1, Step: stepStart, Planned: &down, AtNS: at.UnixNano()})
	rep := next(wireStep).Step
	assert.Equal(t, stepReport{Fault: 1, Step: stepStart, BeganNS: rep.BeganNS, DoneNS: rep.DoneNS}, *rep)
	assert.GreaterOrEqual(t, rep.BeganNS, at.UnixNano(), "not before the moment asked")
	assert.Less(t, rep.BeganNS, at.Add(time.Second).UnixNano())
	_, err := net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the proxy is down")

	// "now" may reach the shard before the step starts its wait: the
	// hurry is kept for it, so no pause is needed between the two.
	send(shardCommand{Cmd: cmdFault, Fault: 1, Step: stepStop, Planned: &down, AtNS: time.Now().Add(time.Hour).UnixNano()})
	send(shardCommand{Cmd: cmdNow})
	rep = next(wireStep).Step
	assert.Equal(t, stepStop, rep.Step)
	assert.Less(t, rep.BeganNS, time.Now().Add(time.Minute).UnixNano(), "hurried, not an hour later")
	c, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err, "the proxy is back")
	c.Close()

	send(map[string]string{"cmd": "explode"})
	assert.Contains(t, next(wireError).Message, `unknown command "explode"`)
	send(shardCommand{Cmd: cmdStop})
	bye := next(wireBye)
	assert.Equal(t, 2, bye.Chain)
	require.NoError(t, <-done)
	inW.Close()
}

func TestShardRejectsBadConfig(t *testing.T) {
	for name, in := range map[string]string{
		"no input":  "",
		"not json":  "go\n",
		"no chain":  `{"proxies":1,"timescale":1,"proxy":"relay"}` + "\n",
		"bad proxy": `{"chain":1,"proxies":1,"timescale":1,"proxy":"nginx"}` + "\n",
		"external":  `{"chain":1,"proxies":1,"timescale":1,"proxy":"relay","toxiproxy_url":"http://127.0.0.1:1"}` + "\n",
		"unknown":   `{"chain":1,"proxies":1,"timescale":1,"proxy":"relay","clients":5}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			require.Error(t, RunShard(t.Context(), strings.NewReader(in), &out))
			w, err := decodeWire(bytes.TrimSpace(out.Bytes()), fromShard)
			require.NoError(t, err, "the shard reports its error as a wire line")
			assert.Equal(t, wireError, w.Type)
		})
	}
}
