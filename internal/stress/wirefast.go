package stress

import (
	"bytes"
	"strconv"

	"github.com/wschaos/wschaos/result"
)

// Message events (a client's sent and received, a fake server's recv and
// send) are most of the lines a run carries: at 20,000 clients about 8,000
// a second. Through encoding/json they took half of the coordinator's CPU
// and a tenth of a chain shard's, time the reconnect herds then lacked. So
// a message event has a fast path each way, which writes and reads exactly
// the bytes encoding/json writes for it:
//
//	{"type":"ev","t":1795957494451196117,"ev":{"t_ms":0,"source":"client","kind":"sent","client":"c12","seq":5}}
//
// appendMessage writes that form (wirefast_test.go holds it byte for byte
// to json.Marshal of the same wire), and parseMessage reads only that form,
// leaving every other line, and any variation of this one, to decodeStrict,
// which it never contradicts (FuzzParseMessage). decodeWire checks the
// result the same way either way.

const (
	msgHead   = `{"type":"ev","t":`
	msgSource = `,"ev":{"t_ms":0,"source":"`
	msgKind   = `","kind":"`
	msgClient = `","client":"`
	msgSeq    = `","seq":`
	msgTail   = `}}`
)

// maxFastDigits bounds the numbers the fast path reads (an int64 has at
// most 19 digits; a Unix time in nanoseconds has 19); larger ones, and any
// past math.MaxInt64, go to decodeStrict.
const maxFastDigits = 19

// fastString reports whether s can be written in JSON as it is and is
// never omitted: one or more letters, digits, '-' or '_'.
func fastString(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !fastByte(s[i]) {
			return false
		}
	}
	return true
}

func fastByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// appendMessage appends the "ev" line of a message event (without the
// newline) to b, and reports false, appending nothing, when the event is
// not one the fast form holds: a zero or negative time, a sequence number
// 0 (omitted by encoding/json) or a string that needs escaping.
func appendMessage(b []byte, t int64, src result.Source, kind result.Kind, client string, seq uint64) ([]byte, bool) {
	if t <= 0 || seq == 0 || !fastString(string(src)) || !fastString(string(kind)) || !fastString(client) {
		return b, false
	}
	b = append(b, msgHead...)
	b = strconv.AppendInt(b, t, 10)
	b = append(b, msgSource...)
	b = append(b, src...)
	b = append(b, msgKind...)
	b = append(b, kind...)
	b = append(b, msgClient...)
	b = append(b, client...)
	b = append(b, msgSeq...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, msgTail...), true
}

// parseMessage reads a line of exactly the form appendMessage writes, and
// reports false for anything else.
func parseMessage(line []byte) (wire, bool) {
	p := fastParser{rest: line}
	t := p.number(msgHead)
	src := p.str(msgSource)
	kind := p.str(msgKind)
	client := p.str(msgClient)
	seq := p.number(msgSeq)
	if p.bad || string(p.rest) != msgTail || t <= 0 || seq <= 0 {
		return wire{}, false
	}
	return wire{Type: wireEvent, T: t, Ev: &result.Event{Source: result.Source(src), Kind: result.Kind(kind), Client: client, Seq: uint64(seq)}}, true
}

// fastParser walks a line: each step expects a literal and then a value,
// and once a step fails every later one does too.
type fastParser struct {
	rest []byte
	bad  bool
}

func (p *fastParser) expect(lit string) bool {
	if p.bad || !bytes.HasPrefix(p.rest, []byte(lit)) {
		p.bad = true
		return false
	}
	p.rest = p.rest[len(lit):]
	return true
}

// number reads lit and then a JSON number of at most maxFastDigits digits
// without a sign, fraction, exponent or leading zero.
func (p *fastParser) number(lit string) int64 {
	if !p.expect(lit) {
		return 0
	}
	n := 0
	for n < len(p.rest) && p.rest[n] >= '0' && p.rest[n] <= '9' {
		n++
	}
	if n == 0 || n > maxFastDigits || (p.rest[0] == '0' && n > 1) {
		p.bad = true
		return 0
	}
	v, err := strconv.ParseInt(string(p.rest[:n]), 10, 64)
	if err != nil {
		p.bad = true
		return 0
	}
	p.rest = p.rest[n:]
	return v
}

// str reads lit and then the contents of a string of fastString bytes,
// up to the closing quote, which the next literal starts with.
func (p *fastParser) str(lit string) string {
	if !p.expect(lit) {
		return ""
	}
	n := 0
	for n < len(p.rest) && fastByte(p.rest[n]) {
		n++
	}
	if n == 0 || n == len(p.rest) || p.rest[n] != '"' {
		p.bad = true
		return ""
	}
	s := string(p.rest[:n])
	p.rest = p.rest[n:]
	return s
}
