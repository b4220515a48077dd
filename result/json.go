package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

var (
	// ErrSchema is wrapped by the error Read returns for a document whose
	// schema is not Schema.
	ErrSchema = errors.New("result: unsupported schema")
	// ErrCorrupt is wrapped by the error Read returns for input that is not
	// one well-formed JSON object of the right shape.
	ErrCorrupt = errors.New("result: corrupt result")
	// ErrInvalid is wrapped by the errors Read and Marshal return for a
	// result that lacks a required field or holds a value outside its
	// allowed set.
	ErrInvalid = errors.New("result: invalid result")
	// ErrTooLarge is wrapped by the error Read returns for input larger
	// than its size cap.
	ErrTooLarge = errors.New("result: input too large")
)

// DefaultMaxBytes is the size cap Read applies when ReadOptions.MaxBytes is
// 0: 1 GiB, several times the largest result a stress run writes.
const DefaultMaxBytes = 1 << 30

// maxProblems bounds how many validation problems one error lists.
const maxProblems = 10

// Marshal checks r and returns it as indented JSON with a final newline. An
// empty r.Schema is written as Schema; any other value, or a result that
// Read would refuse, is an error wrapping ErrSchema or ErrInvalid. Marshal
// does not modify r.
func Marshal(r *Result) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil result", ErrInvalid)
	}
	out := *r // shallow copy: filling Schema must not touch the caller's value
	if out.Schema == "" {
		out.Schema = Schema
	}
	if err := Validate(&out); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		// Only non-finite floats get here: JSON has no NaN or Inf.
		return nil, fmt.Errorf("result: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// Write writes r to w as Marshal renders it; nothing is written on error.
func Write(w io.Writer, r *Result) error {
	b, err := Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadOptions configure Read.
type ReadOptions struct {
	// MaxBytes caps the input. Defaults to DefaultMaxBytes.
	MaxBytes int64
}

// Read decodes one result from r as a stream, reading at most the size cap,
// and checks it. Errors wrap ErrTooLarge (the input passes the cap),
// ErrCorrupt (empty, not JSON, truncated, followed by more data, or of the
// wrong shape: the message gives the byte offset and line), ErrSchema (the
// message names the schema found and the one wanted) or ErrInvalid (a
// required field is missing or a value is outside its set). Fields it does
// not know are ignored.
func Read(r io.Reader, opts ReadOptions) (*Result, error) {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	cr := &capReader{r: r, limit: limit}
	dec := json.NewDecoder(cr)
	res := new(Result)
	err := dec.Decode(res)
	switch {
	case cr.over:
		return nil, fmt.Errorf("%w: more than %d bytes (raise the cap to read it)", ErrTooLarge, limit)
	case err == io.EOF:
		return nil, fmt.Errorf("%w: empty input, want a JSON object", ErrCorrupt)
	case err != nil:
		// The writer puts the schema first, so a file of another version
		// is reported as such even when one of its fields fails to decode.
		if res.Schema != "" && res.Schema != Schema {
			return nil, schemaError(res.Schema)
		}
		return nil, decodeError(err, cr)
	}
	if _, err := dec.Token(); err != io.EOF {
		if cr.over {
			return nil, fmt.Errorf("%w: more than %d bytes (raise the cap to read it)", ErrTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: more data after the result object (at offset %d); want exactly one object", ErrCorrupt, dec.InputOffset())
	}
	if err := Validate(res); err != nil {
		return nil, err
	}
	return res, nil
}

// ReadFile reads and checks the result stored at path, as Read does.
func ReadFile(path string, opts ReadOptions) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("result: %s is a directory, want a result.json file", path)
	}
	res, err := Read(f, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

func schemaError(found string) error {
	if found == SchemaV1 {
		return fmt.Errorf("%w: schema is %q, written by an older wschaos before the typed event model; this version reads %q: run the scenarios again to get a new result", ErrSchema, found, Schema)
	}
	return fmt.Errorf("%w: schema is %q, want %q", ErrSchema, found, Schema)
}

// capReader passes at most limit bytes of r and notes when r has more; it
// counts lines as they pass, so an error can say where it is.
type capReader struct {
	r     io.Reader
	limit int64
	n     int64
	over  bool
	// newlines holds the offsets of the first newlines seen, for turning
	// an offset into a line number.
	newlines []int64
}

const maxNewlines = 1 << 20

func (c *capReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		// One byte more tells a file of exactly the cap from a larger one.
		var one [1]byte
		if k, _ := io.ReadFull(c.r, one[:]); k > 0 {
			c.over = true
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if rest := c.limit - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := c.r.Read(p)
	for i := range k {
		if p[i] == '\n' && len(c.newlines) < maxNewlines {
			c.newlines = append(c.newlines, c.n+int64(i))
		}
	}
	c.n += int64(k)
	return k, err
}

// position renders a byte offset as "line L, column C (offset O)", or the
// offset alone past the newlines counted.
func (c *capReader) position(offset int64) string {
	line, lineStart := 1, int64(0)
	for _, nl := range c.newlines {
		if nl >= offset {
			break
		}
		line, lineStart = line+1, nl+1
	}
	if len(c.newlines) == maxNewlines && offset > c.newlines[len(c.newlines)-1] {
		return fmt.Sprintf("offset %d", offset)
	}
	return fmt.Sprintf("line %d, column %d (offset %d)", line, offset-lineStart+1, offset)
}

// decodeError turns a decoding error into one that says where the problem
// is, in words a person can act on.
func decodeError(err error, c *capReader) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("%w: syntax error at %s: %v", ErrCorrupt, c.position(max(syn.Offset-1, 0)), err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated after %d bytes: the JSON ends in the middle of a value", ErrCorrupt, c.n)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Errorf("%w: the input is a JSON %s, want an object (a wschaos result.json)", ErrCorrupt, typ.Value)
		}
		return fmt.Errorf("%w: field %q at %s is a JSON %s, want %s", ErrCorrupt, field, c.position(typ.Offset), typ.Value, jsonTypeName(typ.Type.Kind().String()))
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// jsonTypeName names a Go kind the way a JSON reader thinks of it.
func jsonTypeName(goKind string) string {
	switch {
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "slice", goKind == "array":
		return "an array"
	case goKind == "struct", goKind == "map", goKind == "ptr":
		return "an object"
	}
	return goKind
}

// Validate reports every missing or out-of-set required value of r, up to
// maxProblems of them, in one error wrapping ErrInvalid (or ErrSchema for
// the wrong schema).
func Validate(r *Result) error {
	if r.Schema != Schema {
		if r.Schema == "" {
			return fmt.Errorf("%w: missing field \"schema\", want %q", ErrInvalid, Schema)
		}
		return schemaError(r.Schema)
	}
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if r.Verdict != "" && !r.Verdict.Known() {
		add("verdict is %q, want one of pass, fail, n/a, interrupted, not-run", r.Verdict)
	}
	if r.Scenarios == nil {
		add("missing field \"scenarios\" (an empty run has \"scenarios\": [])")
	}
	unknownKinds := map[Kind]bool{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		at := fmt.Sprintf("scenarios[%d]", i)
		if s.Name == "" {
			add("%s: missing field \"name\"", at)
		} else {
			at = fmt.Sprintf("scenarios[%d] (%q)", i, s.Name)
		}
		switch {
		case s.Verdict == "":
			add("%s: missing field \"verdict\"", at)
		case !s.Verdict.Known():
			add("%s: verdict is %q, want one of pass, fail, n/a, interrupted, not-run", at, s.Verdict)
		}
		for j := range s.Checks {
			if v := s.Checks[j].Verdict; !v.Known() {
				add("%s: checks[%d] (%q): verdict is %q, want pass, fail or n/a", at, j, s.Checks[j].Name, v)
			}
		}
		for j := range s.Timeline {
			e := &s.Timeline[j]
			if !e.Kind.Known() && !unknownKinds[e.Kind] {
				unknownKinds[e.Kind] = true
				add("%s: timeline[%d]: event kind %q is not in the %s vocabulary", at, j, e.Kind, Schema)
			} else if e.Kind.Known() && e.Source != e.Kind.Source() {
				add("%s: timeline[%d]: kind %q belongs to source %q, not %q", at, j, e.Kind, e.Kind.Source(), e.Source)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	more := ""
	if len(problems) > maxProblems {
		more = fmt.Sprintf("; and %d more", len(problems)-maxProblems)
		problems = problems[:maxProblems]
	}
	return fmt.Errorf("%w: %s%s", ErrInvalid, strings.Join(problems, "; "), more)
}
