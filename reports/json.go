package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

var (
	// ErrSchema is wrapped by the error ReadJSON returns for a document whose
	// schema is not Schema.
	ErrSchema = errors.New("reports: unsupported schema")
	// ErrCorrupt is wrapped by the error ReadJSON returns for input that is
	// not one well-formed JSON object of the right shape.
	ErrCorrupt = errors.New("reports: corrupt result")
	// ErrInvalid is wrapped by the errors ReadJSON, WriteJSON and WriteFiles
	// return for a result that lacks a required field or holds a value
	// outside its allowed set.
	ErrInvalid = errors.New("reports: invalid result")
)

// maxProblems bounds how many validation problems one error lists, so a
// result with a million bad scenarios still gives a readable message.
const maxProblems = 10

// WriteJSON writes r to w as indented JSON. An empty r.Schema is written as
// Schema; any other value, or a result that ReadJSON would reject, is an
// error wrapping ErrSchema or ErrInvalid and nothing is written.
// WriteJSON does not modify r.
func WriteJSON(w io.Writer, r *Result) error {
	b, err := marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func marshal(r *Result) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil result", ErrInvalid)
	}
	out := *r // shallow copy: filling Schema must not touch the caller's value
	if out.Schema == "" {
		out.Schema = Schema
	}
	if err := validate(&out); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		// Only non-finite floats get here: JSON has no NaN or Inf.
		return nil, fmt.Errorf("reports: encode result: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadJSON reads one result from r and checks it. It returns an error
// wrapping ErrCorrupt for input that is empty, not JSON, truncated, followed
// by more data or of the wrong shape (the message gives the line, column and
// byte offset); ErrSchema when the schema is not Schema (the message names
// both); ErrInvalid when a required field is missing: schema, scenarios, and
// each scenario's name and verdict, which must be "pass" or "fail". Fields it
// does not know are ignored, so a v1 reader accepts v1 files from newer
// writers that add optional fields.
func ReadJSON(r io.Reader) (*Result, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reports: read result: %w", err)
	}
	return decode(data)
}

// ReadFile reads and checks the result stored at path, as ReadJSON does.
func ReadFile(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	res, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

func decode(data []byte) (*Result, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty input, want a JSON object", ErrCorrupt)
	}
	// Read the schema alone first, so a file of another version is reported
	// as such rather than by whichever of its fields fails to decode.
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, jsonError(data, err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("%w: missing field \"schema\", want %q", ErrInvalid, Schema)
	case *head.Schema != Schema:
		return nil, fmt.Errorf("%w: schema is %q, want %q", ErrSchema, *head.Schema, Schema)
	}
	res := new(Result)
	if err := json.Unmarshal(data, res); err != nil {
		return nil, jsonError(data, err)
	}
	if err := validate(res); err != nil {
		return nil, err
	}
	return res, nil
}

// jsonError turns a decoding error into one that says where in the input
// the problem is.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		if syn.Offset >= int64(len(data)) {
			return fmt.Errorf("%w: truncated at %s: %v", ErrCorrupt, position(data, syn.Offset), err)
		}
		// Offset counts the bytes read, the bad one included: point at it.
		return fmt.Errorf("%w: syntax error at %s: %v", ErrCorrupt, position(data, syn.Offset-1), err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%w: field %s at %s: got JSON %s, want %s", ErrCorrupt, field, position(data, typ.Offset), typ.Value, typ.Type)
	default:
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

// position renders a byte offset as "line L, column C (offset O)", lines and
// columns counted from 1 and columns in bytes.
func position(data []byte, offset int64) string {
	offset = max(0, min(offset, int64(len(data))))
	before := data[:offset]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d (offset %d)", line, col, offset)
}

// validate reports every missing or out-of-set required value of r, up to
// maxProblems of them, in one error wrapping ErrInvalid.
func validate(r *Result) error {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if r.Schema != Schema {
		return fmt.Errorf("%w: schema is %q, want %q", ErrSchema, r.Schema, Schema)
	}
	if r.Verdict != "" && r.Verdict != Pass && r.Verdict != Fail {
		add("verdict is %q, want %q or %q", r.Verdict, Pass, Fail)
	}
	if r.Scenarios == nil {
		add("missing field \"scenarios\" (an empty run has \"scenarios\": [])")
	}
	mutants := mutantSet(r)
	failed := ""
	for i, s := range r.Scenarios {
		at := fmt.Sprintf("scenarios[%d]", i)
		if s.Name == "" {
			add("%s: missing field \"name\"", at)
		} else {
			at = fmt.Sprintf("scenarios[%d] (%q)", i, s.Name)
		}
		switch s.Verdict {
		case Pass:
		case Fail:
			// A mutant is meant to fail: that is the run passing.
			if failed == "" && !mutants[s.Client] {
				failed = at
			}
		case "":
			add("%s: missing field \"verdict\", want %q or %q", at, Pass, Fail)
		default:
			add("%s: verdict is %q, want %q or %q", at, s.Verdict, Pass, Fail)
		}
	}
	if r.Verdict == Pass && failed != "" {
		add("verdict is %q but %s failed", Pass, failed)
	}
	if len(problems) == 0 {
		return nil
	}
	more := ""
	if len(problems) > maxProblems {
		more = fmt.Sprintf("; and %d more", len(problems)-maxProblems)
		problems = problems[:maxProblems]
	}
	msg := problems[0]
	for _, p := range problems[1:] {
		msg += "; " + p
	}
	return fmt.Errorf("%w: %s%s", ErrInvalid, msg, more)
}

// Names of the files WriteFiles writes.
const (
	JSONFile  = "result.json"
	HTMLFile  = "index.html"
	JUnitFile = "junit.xml"
)

// WriteFiles writes r into dir as result.json, index.html and junit.xml,
// creating dir if needed. It checks r as WriteJSON does and renders all
// three before writing any, and each file is written under a temporary name
// and renamed, so a failure never leaves a half-written report behind.
func WriteFiles(dir string, r *Result) error {
	js, err := marshal(r)
	if err != nil {
		return err
	}
	var html, junit bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		return err
	}
	if err := WriteJUnit(&junit, r); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{JSONFile, js}, {HTMLFile, html.Bytes()}, {JUnitFile, junit.Bytes()}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}

// mutantSet names the clients r.Clients marks as mutants.
func mutantSet(r *Result) map[string]bool {
	m := make(map[string]bool)
	for _, c := range r.Clients {
		if c.Mutant {
			m[c.Name] = true
		}
	}
	return m
}
