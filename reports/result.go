package reports

import "time"

// Schema is the value of Result.Schema for this version of the format. A
// reader rejects any other value.
const Schema = "wschaos.result/v1"

// Verdicts.
const (
	Pass = "pass"
	Fail = "fail"
)

// Result is one run of wschaos: every scenario against every client it ran.
type Result struct {
	Schema      string    `json:"schema"`
	GeneratedAt time.Time `json:"generated_at"`
	Run         RunInfo   `json:"run"`
	// Verdict is Pass when every scenario passed.
	Verdict   string     `json:"verdict"`
	Scenarios []Scenario `json:"scenarios"`
	// Clients lists the clients the run held to the catalogue, in column
	// order: the reference client, then any mutants or outside command.
	// Empty in results that predate it; readers then take the clients
	// named in Scenarios.
	Clients []Client `json:"clients,omitempty"`
}

// Client is one client under test.
type Client struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Mutant marks a deliberately broken client: the run passes only if
	// some scenario catches it (fails against it).
	Mutant bool `json:"mutant,omitempty"`
	// Caught is set for mutants: at least one scenario failed against it.
	Caught bool `json:"caught,omitempty"`
	// CaughtBy lists "Scenario: check" for every failed check.
	CaughtBy []string `json:"caught_by,omitempty"`
}

// RunInfo describes how the run was made, so a reader can reproduce it.
type RunInfo struct {
	Version          string  `json:"version"`
	GoVersion        string  `json:"go_version"`
	ToxiproxyMode    string  `json:"toxiproxy_mode"` // "embedded" or "external"
	ToxiproxyVersion string  `json:"toxiproxy_version"`
	Seed             int64   `json:"seed"`
	Command          string  `json:"command"`
	DurationMS       float64 `json:"duration_ms"`
}

// Scenario is the outcome of one scenario against one client.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Client names the client under test: "reference", a mutant's name, or
	// an outside command.
	Client  string `json:"client"`
	Verdict string `json:"verdict"`
	// Error is set when the scenario could not run at all (setup failed); the
	// verdict is then Fail.
	Error      string   `json:"error,omitempty"`
	DurationMS float64  `json:"duration_ms"`
	Faults     []Fault  `json:"faults"`
	Targets    []Target `json:"targets"`
	Checks     []Check  `json:"checks"`
	Measured   Measured `json:"measured"`
	// Policy is the reconnect backoff policy the client was held to, with
	// defaults applied; the report draws each delay against its envelope.
	// Nil when the client's policy is unknown.
	Policy *BackoffPolicy `json:"policy,omitempty"`
	// Timeline holds every recorded event, ordered by time.
	Timeline []Event `json:"timeline"`
	// Stress holds the aggregates of a stress run (wschaos stress): the
	// distributions over every client for each fault, message totals and
	// each process's resource use. Nil for a catalogue scenario.
	Stress *StressStats `json:"stress,omitempty"`
}

// BackoffPolicy is an exponential backoff with jitter: the delay before
// retry n (1 is the first retry) lies in [base*(1-Jitter), base], where
// base = min(InitialMS * Multiplier^(n-1), MaxMS).
type BackoffPolicy struct {
	InitialMS  float64 `json:"initial_ms"`
	MaxMS      float64 `json:"max_ms"`
	Multiplier float64 `json:"multiplier"`
	// Jitter is the random fraction of each delay, in [0, 1].
	Jitter float64 `json:"jitter"`
}

// Fault is one fault window as it took effect. EndMS equals StartMS for an
// instant fault (a close frame, say).
type Fault struct {
	Kind    string  `json:"kind"`
	Detail  string  `json:"detail,omitempty"`
	StartMS float64 `json:"start_ms"`
	// IssuedMS is when the harness issued the fault (before the Toxiproxy
	// call or the server switch returned). Its effect can reach the client
	// before the call returns, so a loss after IssuedMS counts as detected.
	IssuedMS float64 `json:"issued_ms,omitempty"`
	EndMS    float64 `json:"end_ms"`
}

// Target is one stated goal of a scenario, such as "detect within 350 ms".
type Target struct {
	Name string `json:"name"`
	// Want is the human form, such as "<= 350 ms" or "0".
	Want string `json:"want"`
	// Limit is the numeric bound in the unit of the measurement (ms for
	// times, a count otherwise).
	Limit float64 `json:"limit"`
	// Why says where the number comes from, such as
	// "PingInterval 200ms + PongTimeout 150ms".
	Why string `json:"why,omitempty"`
}

// Check is one measured value held against its target.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Got  string `json:"got"`
	Want string `json:"want"`
	// Margin says how close it came, such as "210 ms of a 300 ms budget" or
	// "missed by 40 ms".
	Margin string `json:"margin,omitempty"`
	// NotApplicable marks a check that could not be judged for this client
	// (message continuity for a client that does not speak the protocol).
	// OK is true so it does not fail the run, and Got says why; it is never
	// shown as passed.
	NotApplicable bool `json:"not_applicable,omitempty"`
}

// Measured holds the figures DESIGN.md defines. A nil time means it was not
// measured (no detection happened, say).
type Measured struct {
	DetectMS   *float64 `json:"detect_ms"`
	RecoverMS  *float64 `json:"recover_ms"`
	DowntimeMS *float64 `json:"downtime_ms"`
	// Attempts counts connection attempts from the first fault to recovery.
	Attempts int `json:"attempts"`
	// Reconnects counts connections made after the first one.
	Reconnects int `json:"reconnects"`
	// DelaysMS are the backoff delays the client announced, in order.
	DelaysMS []float64 `json:"delays_ms,omitempty"`
	// Up (client to server) and Down (server to client) count the messages
	// of every client; nil when the client does not speak the protocol.
	Up   *Flow `json:"up,omitempty"`
	Down *Flow `json:"down,omitempty"`
	// Resumed counts reconnects on which the server resumed the session.
	Resumed int `json:"resumed"`
	// DetectedAtMS and RecoveredAtMS are the moments of detection and
	// recovery on the timeline (ms since the scenario's time origin), so the
	// report can draw them without guessing which fault they count from.
	// When absent the report counts detection from the first fault's start
	// and recovery from the last fault's end.
	DetectedAtMS  *float64 `json:"detected_at_ms,omitempty"`
	RecoveredAtMS *float64 `json:"recovered_at_ms,omitempty"`
	// PerClient holds each client's own figures when several clients ran,
	// in client order; the figures above are the worst of them. When absent
	// the report works recovery times out from the timeline.
	PerClient []ClientFigure `json:"per_client,omitempty"`
}

// ClientFigure is one client's figures in a scenario that ran several. A
// nil time means it was not measured (the client never recovered, say).
type ClientFigure struct {
	Client    string   `json:"client"`
	DetectMS  *float64 `json:"detect_ms,omitempty"`
	RecoverMS *float64 `json:"recover_ms,omitempty"`
	Attempts  int      `json:"attempts,omitempty"`
}

// Flow counts one direction's messages.
type Flow struct {
	Sent       int `json:"sent"`
	Delivered  int `json:"delivered"`
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Reordered  int `json:"reordered"`
	// Gap is how many messages the client was told are lost for good
	// (down only); they are not counted as lost.
	Gap int `json:"gap,omitempty"`
	// Missing lists up to 10 lost sequence numbers.
	Missing []uint64 `json:"missing,omitempty"`
}

// Event is one entry of a scenario's timeline.
type Event struct {
	// TMS is milliseconds since the scenario's time origin.
	TMS float64 `json:"t_ms"`
	// Source is "client", "server", "tap" or "harness".
	Source string `json:"source"`
	// Client is the client id the event concerns, if any.
	Client string `json:"client,omitempty"`
	// Conn is the connection number within its source, if any.
	Conn    uint64  `json:"conn,omitempty"`
	Kind    string  `json:"kind"`
	Code    int     `json:"code,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Attempt int     `json:"attempt,omitempty"`
	DelayMS float64 `json:"delay_ms,omitempty"`
	// HintMS is the server hint (Retry-After, 1013) a backoff honoured.
	HintMS float64 `json:"hint_ms,omitempty"`
	Seq    uint64  `json:"seq,omitempty"`
	Detail string  `json:"detail,omitempty"`
}
