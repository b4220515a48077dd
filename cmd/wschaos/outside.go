package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
	"github.com/wschaos/wschaos/scenarios"
)

// Outside clients on the command line: the profile a client declares
// (flags, or a profile file), and how many processes of it run in the
// scenarios with several clients.

// maxClients bounds --clients: each outside client is a process of its
// own, with a tap and a proxied connection in this one.
const maxClients = 500

// maxProfileFile bounds a profile file: it holds seven fields.
const maxProfileFile = 1 << 20

// profileField is one field of a declared profile: its name in the file
// (the flag is the same with dashes), what it means, and where it lives.
type profileField struct {
	name, usage string
	dur         func(p *harness.Profile) *time.Duration // nil for a number
	num         func(p *harness.Profile) *float64
}

var profileFields = []profileField{
	{name: "ping_interval", usage: "the client pings after this much silence (a duration such as 25s); 0 declares no heartbeat",
		dur: func(p *harness.Profile) *time.Duration { return &p.PingInterval }},
	{name: "pong_timeout", usage: "and declares the connection dead when no pong comes within this; 0 declares no heartbeat",
		dur: func(p *harness.Profile) *time.Duration { return &p.PongTimeout }},
	{name: "handshake_timeout", usage: "the client gives up a dial and upgrade after this",
		dur: func(p *harness.Profile) *time.Duration { return &p.HandshakeTimeout }},
	{name: "backoff_initial", usage: "the client's first reconnect delay",
		dur: func(p *harness.Profile) *time.Duration { return &p.BackoffInitial }},
	{name: "backoff_max", usage: "the cap on its reconnect delay",
		dur: func(p *harness.Profile) *time.Duration { return &p.BackoffMax }},
	{name: "backoff_multiplier", usage: "the growth of its reconnect delay per attempt (1 to 100; 1 is a fixed delay)",
		num: func(p *harness.Profile) *float64 { return &p.BackoffMultiplier }},
	{name: "backoff_jitter", usage: "the random fraction of each delay, 0 (none) to 1: the delay is in [d*(1-jitter), d]",
		num: func(p *harness.Profile) *float64 { return &p.BackoffJitter }},
}

func flagName(field string) string { return strings.ReplaceAll(field, "_", "-") }

// outsideConfig is what the outside-client flags say.
type outsideConfig struct {
	profileFile string
	clients     int
	// flags holds the profile flags as given; declared is the profile
	// resolved from the defaults, the file and the flags, nil when none of
	// them was given.
	flags    harness.Profile
	set      map[string]bool
	declared *harness.Profile
}

// addOutsideFlags registers the profile flags and --clients on fs.
func addOutsideFlags(fs *flag.FlagSet, oc *outsideConfig) {
	fs.StringVar(&oc.profileFile, "client-profile", "", "read the client's declared profile from this JSON file ('wschaos profile' prints a template); the profile flags override it")
	for _, f := range profileFields {
		usage := "declared profile: " + f.usage + " (unset: the file's, else the catalogue's; see 'wschaos profile')"
		if f.dur != nil {
			fs.DurationVar(f.dur(&oc.flags), flagName(f.name), 0, usage)
		} else {
			fs.Float64Var(f.num(&oc.flags), flagName(f.name), 0, usage)
		}
	}
	fs.IntVar(&oc.clients, "clients", 0, fmt.Sprintf("how many clients run in the scenarios that run several (MassDrop, ConnectionLimit): with --client-cmd, that many processes of the command, each with its own WSCHAOS_CLIENT_ID (2 to %d; default each scenario's own count)", maxClients))
}

// resolve works out the declared profile: the reference profile at scale,
// then the file, then the flags given. It checks every value, and the
// profile against the client it is for, before any work.
func (oc *outsideConfig) resolve(fs *flag.FlagSet, scale float64, outside, mutants bool) error {
	oc.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { oc.set[f.Name] = true })
	if oc.set["clients"] && (oc.clients < 2 || oc.clients > maxClients) {
		return fmt.Errorf("--clients %d: want 2 to %d (it sets the scenarios that run several clients)", oc.clients, maxClients)
	}
	given := oc.profileFile != "" || slices.ContainsFunc(profileFields, func(f profileField) bool { return oc.set[flagName(f.name)] })
	if !given {
		return nil
	}
	if mutants {
		return errors.New("--mutants runs the catalogue's own profile (the mutants' expectations are set for it): drop --client-profile and the profile flags")
	}
	p := scenarios.DeclaredAt(scale)
	if oc.profileFile != "" {
		if err := readProfileFile(oc.profileFile, &p); err != nil {
			return err
		}
	}
	for _, f := range profileFields {
		if !oc.set[flagName(f.name)] {
			continue
		}
		if f.dur != nil {
			*f.dur(&p) = *f.dur(&oc.flags)
		} else {
			*f.num(&p) = *f.num(&oc.flags)
		}
	}
	if err := p.Validate(); err != nil {
		return oc.profileError(err)
	}
	if !p.Heartbeat() && !outside {
		return errors.New("the profile declares no heartbeat (--ping-interval or --pong-timeout 0), which only an outside client (--client-cmd) can have: the reference client always has one")
	}
	oc.declared = &p
	return nil
}

// profileError names each bad field as the user gave it: a flag, or a
// field of the profile file.
func (oc *outsideConfig) profileError(err error) error {
	var lines []string
	for _, e := range unjoin(err) {
		var pe *harness.ProfileError
		if !errors.As(e, &pe) {
			lines = append(lines, e.Error())
			continue
		}
		where := "--" + flagName(pe.Field)
		if !oc.set[where[2:]] {
			where = oc.profileFile + ": " + pe.Field
			if oc.profileFile == "" {
				where = pe.Field + " (the reference profile's, as no flag or file set it)"
			}
		}
		lines = append(lines, where+" "+pe.Problem)
	}
	return errors.New(strings.Join(lines, "\n"))
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// readProfileFile reads a declared profile over p. The file is JSON, and
// a line whose first non-blank characters are // is a comment; a comment
// after a value on the same line is not allowed (JSON has none, and the
// file stays readable by any JSON tool once comment lines are dropped).
// Durations are strings in Go's notation ("25s", "1m30s"); multiplier and
// jitter are numbers. A field left out keeps its value in p.
func readProfileFile(path string, p *harness.Profile) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--client-profile: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProfileFile+1))
	if err != nil {
		return fmt.Errorf("--client-profile %s: %w", path, err)
	}
	if len(b) > maxProfileFile {
		return fmt.Errorf("--client-profile %s: over %d bytes; a profile has seven fields", path, maxProfileFile)
	}
	if err := parseProfile(b, p); err != nil {
		return fmt.Errorf("--client-profile %s: %w", path, err)
	}
	return nil
}

// parseProfile reads the profile file's text over p.
func parseProfile(b []byte, p *harness.Profile) error {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(bytes.TrimSpace(l), []byte("//")) {
			lines[i] = nil // keep the line, so positions stay right
		}
	}
	text := bytes.Join(lines, []byte("\n"))
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(text))
	if err := dec.Decode(&fields); err != nil {
		return jsonPosition(text, err)
	}
	if dec.More() {
		return errors.New("more than one JSON value: want one object")
	}
	if fields == nil {
		return errors.New("want a JSON object of profile fields, got null")
	}
	known := make([]string, len(profileFields))
	for i, f := range profileFields {
		known[i] = f.name
	}
	for name := range fields {
		if !slices.Contains(known, name) {
			return fmt.Errorf("unknown field %q; the fields are %s", name, strings.Join(known, ", "))
		}
	}
	for _, f := range profileFields {
		raw, ok := fields[f.name]
		if !ok {
			continue
		}
		if err := setField(f, raw, p); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// setField reads one field's JSON value into p.
func setField(f profileField, raw json.RawMessage, p *harness.Profile) error {
	if f.dur != nil {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("want a duration string such as \"2s\" or \"500ms\", got %s", raw)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration; want one such as \"2s\" or \"500ms\"", s)
		}
		*f.dur(p) = d
		return nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("want a number such as 2 or 0.5, got %s", raw)
	}
	*f.num(p) = v
	return nil
}

// jsonPosition adds the line and column to a JSON syntax error.
func jsonPosition(text []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if errors.Is(err, io.EOF) {
			return errors.New("empty: want a JSON object of profile fields")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("want a JSON object of profile fields, got a %s", te.Value)
		}
		return err
	}
	before := text[:min(int(se.Offset), len(text))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: %v (comments go on lines of their own, starting with //)", line, col, se)
}

// replayArgs are the outside-client flags that replay the run: the
// resolved profile in full, so the replay needs no file.
func (oc *outsideConfig) replayArgs() []string {
	var words []string
	if p := oc.declared; p != nil {
		for _, f := range profileFields {
			v := ""
			if f.dur != nil {
				v = f.dur(p).String()
			} else {
				v = strconv.FormatFloat(*f.num(p), 'g', -1, 64)
			}
			words = append(words, "--"+flagName(f.name), v)
		}
	}
	if oc.clients > 0 {
		words = append(words, "--clients", strconv.Itoa(oc.clients))
	}
	return words
}

// declaredProfile states the declared profile in the result's terms; nil
// when none was declared.
func (oc *outsideConfig) declaredProfile() *result.Profile {
	p := oc.declared
	if p == nil {
		return nil
	}
	rp := &result.Profile{HandshakeTimeoutMS: msOf(p.HandshakeTimeout), Backoff: result.BackoffPolicy{
		InitialMS: msOf(p.BackoffInitial), MaxMS: msOf(p.BackoffMax), Multiplier: p.BackoffMultiplier, Jitter: p.BackoffJitter}}
	if p.Heartbeat() {
		rp.PingIntervalMS, rp.PongTimeoutMS = msOf(p.PingInterval), msOf(p.PongTimeout)
	}
	return rp
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// plainClient reports whether an outside client showed itself a plain
// WebSocket client: the server took it for one and it never said hello.
func plainClient(name string, scs []result.Scenario) bool {
	plain := false
	for _, s := range scs {
		if s.Client != name {
			continue
		}
		for _, e := range s.Timeline {
			switch e.Kind {
			case result.KindHello:
				return false
			case result.KindPlain:
				plain = true
			}
		}
	}
	return plain
}

const profileTemplate = `// A wschaos client profile: the timing contract your client declares.
// Use it with: wschaos run --client-cmd '...' --client-profile FILE
//
// The file is JSON, and a line whose first non-blank characters are // is
// a comment (a comment after a value on the same line is not allowed).
// Durations are strings in Go's notation ("25s", "500ms", "1m30s"), at
// most 10m; multiplier and jitter are numbers. A field you leave out keeps
// the value below: the catalogue's compressed reference profile%s, which
// an undeclared client is held to. The reference client's production
// defaults are in the comments.
{
  // Heartbeat: the client pings after this much silence (production: 10s).
  // "0s" here or in pong_timeout declares no heartbeat; the half-open
  // scenarios then fail it as never detecting the silence.
  "ping_interval": %q,
  // ...and declares the connection dead when no pong comes within this
  // (production: 5s). Detection is promised within the sum.
  "pong_timeout": %q,
  // It gives up a dial and upgrade after this (production: 10s).
  "handshake_timeout": %q,
  // Reconnect delay before retry n: base = min(initial * multiplier^(n-1),
  // max), then a random cut of up to jitter * base: [base*(1-jitter), base].
  // Production: 100ms, 10s, 2, 0.5. A fixed 1 s delay: "1s", "1s", 1, 0.
  "backoff_initial": %q,
  "backoff_max": %q,
  "backoff_multiplier": %s,
  "backoff_jitter": %s
}
`

// cmdProfile prints the commented profile template, with the values a
// client that declares nothing is held to.
func cmdProfile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("profile", stderr, "profile [--timescale K] > client-profile.json")
	scale := fs.Float64("timescale", 1, fmt.Sprintf("the values at this time scale, as 'wschaos run --timescale' holds an undeclared client to (%g to %g)", minTimescale, float64(maxTimescale)))
	if code, ok := parse(fs, args, 0); !ok {
		return code
	}
	if !(*scale >= minTimescale && *scale <= maxTimescale) {
		fmt.Fprintf(stderr, "wschaos profile: --timescale %v: want %g to %g\n", *scale, minTimescale, float64(maxTimescale))
		return exitUsage
	}
	p := scenarios.DeclaredAt(*scale)
	at := ""
	if *scale != 1 {
		at = fmt.Sprintf(" at time scale %g", *scale)
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	fmt.Fprintf(stdout, profileTemplate, at, p.PingInterval.String(), p.PongTimeout.String(), p.HandshakeTimeout.String(),
		p.BackoffInitial.String(), p.BackoffMax.String(), num(p.BackoffMultiplier), num(p.BackoffJitter))
	return exitOK
}
