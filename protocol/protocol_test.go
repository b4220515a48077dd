package protocol

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, e := range []Envelope{
		{Type: TypeHello, ClientID: "c1"},
		{Type: TypeHello, ClientID: "c1", Session: "s-1", LastSeq: 41},
		{Type: TypeWelcome, Session: "s-1", ClientID: "c1", Resumed: true, Ack: 17, FromSeq: 42},
		{Type: TypeWelcome, Session: "s-2", ClientID: "c1", FromSeq: 120, Gap: 78},
		{Type: TypeMsg, Seq: 18, Body: "order 18"},
		{Type: TypeAck, Seq: 18},
		{Type: TypeEcho, ID: 3},
	} {
		b, err := Encode(e)
		require.NoError(t, err)
		got, err := Decode(b)
		require.NoError(t, err, "decode %s", b)
		assert.Equal(t, e, got)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          ``,
		"not json":       `hello`,
		"array":          `[1,2]`,
		"no type":        `{"seq":1}`,
		"unknown type":   `{"type":"nope"}`,
		"hello no id":    `{"type":"hello"}`,
		"msg no seq":     `{"type":"msg","body":"x"}`,
		"ack zero":       `{"type":"ack","seq":0}`,
		"negative seq":   `{"type":"msg","seq":-1}`,
		"huge seq":       `{"type":"msg","seq":1e400}`,
		"trailing":       `{"type":"echo"} {"type":"echo"}`,
		"welcome no ses": `{"type":"welcome"}`,
		"long id":        `{"type":"hello","client_id":"` + strings.Repeat("x", MaxIDLen+1) + `"}`,
		"bad utf8":       "{\"type\":\"echo\",\"body\":\"\xff\"}",
		"too big":        `{"type":"echo","body":"` + strings.Repeat("x", MaxFrameSize) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformed), "got %v, want it to wrap ErrMalformed", err)
		})
	}
}

func TestEncodeValidates(t *testing.T) {
	_, err := Encode(Envelope{Type: TypeMsg})
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestIsEnvelope(t *testing.T) {
	assert.True(t, IsEnvelope([]byte(` {"type":"echo"}`)))
	assert.False(t, IsEnvelope([]byte(`ping 3`)))
	assert.False(t, IsEnvelope(nil))
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"hello","client_id":"c1","session":"s","last_seq":4}`))
	f.Add([]byte(`{"type":"msg","seq":1,"body":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got error %v, want one wrapping ErrMalformed", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same envelope.
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", data, err)
		}
		again, err := Decode(b)
		if err != nil || again != e {
			t.Fatalf("round trip of %q: got %+v, %v, want %+v", data, again, err, e)
		}
	})
}
