package result

import "time"

// Schema is the value of Result.Schema for this version of the format.
const Schema = "wschaos.result/v2"

// SchemaV1 is the schema of results written by wschaos before the typed
// event model. Readers refuse it with a message that names it.
const SchemaV1 = "wschaos.result/v1"

// Verdict is the outcome of a check, a scenario or a run.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	// NotApplicable: there was nothing to judge (a check with no evidence,
	// or a scenario whose defining check had none). Never counted as passed.
	NotApplicable Verdict = "n/a"
	// Interrupted: the run was cut short (an interrupt) while the scenario
	// ran; its figures are partial and judge nothing.
	Interrupted Verdict = "interrupted"
	// NotRun: the scenario was not run; Scenario.Error says why (it needs
	// the fake server and the run was against a real upstream, say).
	NotRun Verdict = "not-run"
)

// Known reports whether v is one of the verdicts.
func (v Verdict) Known() bool {
	switch v {
	case Pass, Fail, NotApplicable, Interrupted, NotRun:
		return true
	}
	return false
}

// Result is one run of wschaos: every scenario against every client it ran.
type Result struct {
	Schema      string    `json:"schema"`
	GeneratedAt time.Time `json:"generated_at"`
	Run         RunInfo   `json:"run"`
	// Verdict is Fail when a scenario failed (against a client that is not
	// a mutant) or a mutant was not caught, Interrupted when the run was cut
	// short, and Pass otherwise.
	Verdict Verdict `json:"verdict"`
	// Summary counts the scenarios by verdict.
	Summary   Summary    `json:"summary"`
	Scenarios []Scenario `json:"scenarios"`
	// Clients lists the clients the run held to the catalogue, in column
	// order: the reference client, then any mutants or outside command.
	Clients []Client `json:"clients,omitempty"`
}

// Summary counts scenario runs by verdict. Runs against mutants count
// apart: a mutant failing is the run passing.
type Summary struct {
	Passed        int `json:"passed"`
	Failed        int `json:"failed"`
	NotApplicable int `json:"not_applicable"`
	Interrupted   int `json:"interrupted"`
	NotRun        int `json:"not_run"`
	// MutantRuns counts runs against mutants; MutantsCaught the mutants
	// caught by their named checks.
	MutantRuns    int `json:"mutant_runs,omitempty"`
	MutantsCaught int `json:"mutants_caught,omitempty"`
	Mutants       int `json:"mutants,omitempty"`
}

// Client is one client under test.
type Client struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Mutant marks a deliberately broken client: the run passes only if
	// the checks named for it fail against it.
	Mutant bool `json:"mutant,omitempty"`
	// Caught is set for mutants: every named check failed against it.
	Caught bool `json:"caught,omitempty"`
	// CaughtBy lists "Scenario: check" for the named checks that failed;
	// Missed those that did not.
	CaughtBy []string `json:"caught_by,omitempty"`
	Missed   []string `json:"missed,omitempty"`
	// Outside marks a program measured from the wire; Command is its
	// command line.
	Outside bool   `json:"outside,omitempty"`
	Command string `json:"command,omitempty"`
	// Plain marks a client that does not speak the session protocol: it is
	// ready on the upgrade, and message continuity cannot be judged.
	Plain bool `json:"plain,omitempty"`
	// Profile is the client's declared (or effective) timing profile, the
	// contract its targets derive from.
	Profile *Profile `json:"profile,omitempty"`
}

// RunInfo describes how the run was made, so a reader can reproduce it.
type RunInfo struct {
	Version          string `json:"version"`
	GoVersion        string `json:"go_version"`
	ToxiproxyMode    string `json:"toxiproxy_mode"` // "embedded" or "external"
	ToxiproxyVersion string `json:"toxiproxy_version"`
	Seed             int64  `json:"seed"`
	// Command is the command line that replays the run, quoted for POSIX
	// shells.
	Command    string  `json:"command"`
	DurationMS float64 `json:"duration_ms"`
	// Timescale is the factor every duration of the profile and schedule
	// was stretched by; 0 or 1 means none.
	Timescale float64 `json:"timescale,omitempty"`
	// Upstream is the real server the chain stood in front of, instead of
	// the fake server; empty for the fake server.
	Upstream string `json:"upstream,omitempty"`
	// Interrupted is set when the run was cut short.
	Interrupted bool `json:"interrupted,omitempty"`
	// Race is set when the harness ran under the race detector.
	Race bool `json:"race,omitempty"`
}

// Scenario is the outcome of one scenario against one client.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Client names the client under test: "reference", a mutant's name, or
	// an outside command.
	Client  string  `json:"client"`
	Verdict Verdict `json:"verdict"`
	// Error is set when the scenario could not run (setup failed, the run
	// was invalid, or it was not run at all) and says why.
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	// Clients is how many clients ran.
	Clients  int      `json:"clients"`
	Faults   []Fault  `json:"faults"`
	Targets  []Target `json:"targets"`
	Checks   []Check  `json:"checks"`
	Measured Measured `json:"measured"`
	// Profile is the timing profile the client was held to, defaults
	// applied. Nil when unknown.
	Profile *Profile `json:"profile,omitempty"`
	// Link holds the packet link's counters when the scenario ran over the
	// userspace packet segment.
	Link *LinkPackets `json:"link,omitempty"`
	// Timeline holds every recorded event, ordered by time.
	Timeline []Event `json:"timeline"`
	// Stress holds the aggregates of a stress run. Nil for a catalogue
	// scenario.
	Stress *StressStats `json:"stress,omitempty"`
}

// Profile is a client's timing contract, in milliseconds. A zero
// PingIntervalMS or PongTimeoutMS means the client declares no heartbeat.
type Profile struct {
	PingIntervalMS     float64       `json:"ping_interval_ms"`
	PongTimeoutMS      float64       `json:"pong_timeout_ms"`
	AckTimeoutMS       float64       `json:"ack_timeout_ms,omitempty"`
	HandshakeTimeoutMS float64       `json:"handshake_timeout_ms"`
	CloseGraceMS       float64       `json:"close_grace_ms,omitempty"`
	MinHealthyUptimeMS float64       `json:"min_healthy_uptime_ms,omitempty"`
	HintMaxMS          float64       `json:"hint_max_ms,omitempty"`
	Backoff            BackoffPolicy `json:"backoff"`
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

// Layer says what a fault acts on, which decides whether it can run against
// a real upstream server.
type Layer string

// Fault layers.
const (
	LayerNetwork Layer = "network" // Toxiproxy: works in front of any server
	LayerPacket  Layer = "packet"  // the userspace packet link: any server
	LayerServer  Layer = "server"  // the fake server's misbehaviour: needs the fake server
)

// Fault is one fault as it took effect. EndMS equals StartMS for an
// instant fault (a close frame, say).
type Fault struct {
	// Index is the fault's 1-based position in the schedule.
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Layer Layer  `json:"layer,omitempty"`
	// Text describes the fault for people.
	Text string `json:"text,omitempty"`
	// IssuedMS is when the harness issued the fault; its effect can reach
	// the client before the call that made it returns.
	IssuedMS float64 `json:"issued_ms"`
	StartMS  float64 `json:"start_ms"`
	EndMS    float64 `json:"end_ms"`
	// StopIssuedMS is when the harness began to end a fault that lasts;
	// ending it (removing a black hole closes the connections it held) can
	// reach the client before EndMS, the moment the call returned. 0 for
	// an instant fault.
	StopIssuedMS float64 `json:"stop_issued_ms,omitempty"`
}

// Unit is the unit of a target's limit and a check's value.
type Unit string

// Units.
const (
	UnitMS    Unit = "ms"
	UnitCount Unit = "count"
)

// Target is one stated goal of a scenario, such as "detect within 375 ms".
type Target struct {
	Name string `json:"name"`
	// Want is the human form, such as "<= 375 ms".
	Want string `json:"want"`
	// Limit is the number the figure is held to, in Unit: Bound plus
	// Allowance.
	Limit float64 `json:"limit"`
	Unit  Unit    `json:"unit,omitempty"`
	// Bound is the figure the configuration promises, and Allowance what is
	// added for measurement error; both in Unit.
	Bound     float64 `json:"bound,omitempty"`
	Allowance float64 `json:"allowance,omitempty"`
	// Why says where the numbers come from.
	Why string `json:"why,omitempty"`
	// From names the moment a time target counts from; empty for the
	// target's usual origin (the fault for detection, its end for
	// recovery).
	From Origin `json:"from,omitempty"`
	// Defining marks the check the scenario is about: when it has nothing
	// to judge the scenario's verdict is n/a.
	Defining bool `json:"defining,omitempty"`
}

// Origin is the moment a time target counts from.
type Origin string

// Origins.
const (
	// FromFault: the fault took effect (detection) or ended (recovery).
	FromFault Origin = "fault"
	// FromSilence: the last inbound frame the client could observe before
	// it declared the connection dead, which is what a heartbeat's bound
	// is about.
	FromSilence Origin = "silence"
	// FromLoss: the client's own declared loss.
	FromLoss Origin = "loss"
	// FromUnanswered: the first message the client wrote that the server
	// never received, which is what an ack timeout is about.
	FromUnanswered Origin = "unanswered"
)

// Check is one measured value held against its target.
type Check struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	// Got is the measured value for people; Value the same figure as a
	// number in Unit when one number states it (the worst client's).
	Got   string   `json:"got"`
	Value *float64 `json:"value,omitempty"`
	Want  string   `json:"want"`
	Limit float64  `json:"limit,omitempty"`
	Unit  Unit     `json:"unit,omitempty"`
	// Margin says how close it came, such as "210 ms of a 300 ms budget" or
	// "missed by 40 ms"; for n/a, why there was nothing to judge.
	Margin string `json:"margin,omitempty"`
	// Via is ViaWire when the figure was read off the wire.
	Via      Via  `json:"via,omitempty"`
	Defining bool `json:"defining,omitempty"`
}

// Passed and Failed report the check's verdict.
func (c *Check) Passed() bool { return c.Verdict == Pass }

// Failed reports whether the check failed.
func (c *Check) Failed() bool { return c.Verdict == Fail }

// Measured holds a scenario's figures. A nil time means it was not measured
// (no detection happened, say). Times are milliseconds; moments (the *AtMS
// fields) are on the timeline's clock.
type Measured struct {
	// Via is ViaWire when the client's lifecycle was read off the wire.
	Via Via `json:"via,omitempty"`
	// DetectMS counts detection from the fault taking effect;
	// DetectSilenceMS from the start of the silence the client could
	// observe: the last inbound frame before the fault took effect.
	DetectMS        *float64 `json:"detect_ms"`
	DetectSilenceMS *float64 `json:"detect_silence_ms,omitempty"`
	RecoverMS       *float64 `json:"recover_ms"`
	DowntimeMS      *float64 `json:"downtime_ms"`
	// Attempts counts connection attempts from the first fault to recovery
	// (the worst client's).
	Attempts int `json:"attempts"`
	// Reconnects counts connections made after the first one.
	Reconnects int `json:"reconnects"`
	// Resumed counts reconnects on which the server resumed the session.
	Resumed int `json:"resumed"`
	// The moments the figures above count from and to, for drawing:
	// detection runs from DetectFromMS (or SilenceFromMS) to DetectedAtMS,
	// recovery from RecoverFromMS to RecoveredAtMS. With several clients
	// they are the worst client's for each figure.
	DetectFromMS  *float64 `json:"detect_from_ms,omitempty"`
	SilenceFromMS *float64 `json:"silence_from_ms,omitempty"`
	DetectedAtMS  *float64 `json:"detected_at_ms,omitempty"`
	RecoverFromMS *float64 `json:"recover_from_ms,omitempty"`
	RecoveredAtMS *float64 `json:"recovered_at_ms,omitempty"`
	// Delays are the backoff delays the clients took, each against its
	// policy envelope.
	Delays []Delay `json:"delays,omitempty"`
	// Up (client to server) and Down (server to client) count the messages
	// of every client; nil when the client does not speak the protocol.
	Up   *Flow `json:"up,omitempty"`
	Down *Flow `json:"down,omitempty"`
	// Undelivered counts messages the client reported it gave up on.
	Undelivered int `json:"undelivered,omitempty"`
	// PerClient holds each client's figures when several clients ran, in
	// client order; the figures above are the worst of them.
	PerClient []ClientFigure `json:"per_client,omitempty"`
	// Spread summarises several clients: percentiles, the recovery CDF and
	// dials per window against the herd limit.
	Spread *Spread `json:"spread,omitempty"`
}

// Delay is one backoff delay a client took, with the envelope its policy
// allows for that attempt.
type Delay struct {
	Client  string  `json:"client"`
	AtMS    float64 `json:"at_ms"`
	Attempt int     `json:"attempt"`
	DelayMS float64 `json:"delay_ms"`
	// LoMS and HiMS bound the delay the policy allows for Attempt.
	LoMS float64 `json:"lo_ms"`
	HiMS float64 `json:"hi_ms"`
	// HintMS is the server hint the delay honoured; the hint, not the
	// envelope, then sets its floor.
	HintMS float64 `json:"hint_ms,omitempty"`
	// InPolicy says the delay is inside its envelope (or at or above its
	// hint), with the allowance for how it was measured.
	InPolicy bool `json:"in_policy"`
	Via      Via  `json:"via,omitempty"`
}

// ClientFigure is one client's figures in a scenario that ran several.
type ClientFigure struct {
	Client          string   `json:"client"`
	DetectMS        *float64 `json:"detect_ms,omitempty"`
	DetectSilenceMS *float64 `json:"detect_silence_ms,omitempty"`
	RecoverMS       *float64 `json:"recover_ms,omitempty"`
	Attempts        int      `json:"attempts,omitempty"`
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
	// Undelivered is how many the client reported it gave up on (up only);
	// they are not counted as lost.
	Undelivered int `json:"undelivered,omitempty"`
	// Missing lists up to 10 lost sequence numbers.
	Missing []uint64 `json:"missing,omitempty"`
}

// Spread is how several clients spread out.
type Spread struct {
	Clients   int          `json:"clients"`
	Recovered int          `json:"recovered"`
	Detect    Distribution `json:"detect_ms"`
	Recover   Distribution `json:"recover_ms"`
	Attempts  Distribution `json:"attempts"`
	// RecoverCDF is the share of all clients recovered against time since
	// the fault's end.
	RecoverCDF []CDFPoint `json:"recover_cdf,omitempty"`
	// Dials counts the clients' dials per WindowMS window from FromMS (the
	// last fault's end; a negative Index is before it): First the first
	// dial of each client at or after FromMS, which the herd check holds,
	// Other every other dial since the first fault.
	WindowMS   float64  `json:"window_ms"`
	FromMS     float64  `json:"from_ms"`
	FirstDials []Bucket `json:"first_dials,omitempty"`
	OtherDials []Bucket `json:"other_dials,omitempty"`
	// HerdLimit is the herd-spread check's limit per window; 0 when the
	// scenario has none.
	HerdLimit float64 `json:"herd_limit,omitempty"`
}

// Bucket is one window of a histogram.
type Bucket struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Distribution summarises one figure over many clients (nearest-rank
// percentiles).
type Distribution struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// CDFPoint is one point of an empirical distribution: Fraction of the
// values are at or below MS.
type CDFPoint struct {
	MS       float64 `json:"ms"`
	Fraction float64 `json:"fraction"`
}
