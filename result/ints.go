package result

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Ints is a list of integers stored compactly: in JSON one string of
// decimal numbers separated by single spaces ("" for none), so that a
// stress result with every client's figures stays a few bytes per value
// (an indented JSON array takes a line each).
type Ints []int64

// MarshalJSON writes the list as one string.
func (v Ints) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+8*len(v))
	b = append(b, '"')
	for i, x := range v {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, x, 10)
	}
	return append(b, '"'), nil
}

// errInts is wrapped by every error UnmarshalJSON returns.
var errInts = errors.New("want a string of integers separated by single spaces")

// UnmarshalJSON reads the string MarshalJSON writes; anything else is an
// error that says where.
func (v *Ints) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%w: %v", errInts, err)
	}
	*v = nil
	if s == "" {
		return nil
	}
	out := make(Ints, 0, bytes.Count([]byte(s), []byte{' '})+1)
	for i, f := range bytes.Split([]byte(s), []byte{' '}) {
		x, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: item %d, %q", errInts, i+1, clipString(string(f), 24))
		}
		out = append(out, x)
	}
	*v = out
	return nil
}

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
