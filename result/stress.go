package result

// StressStats are the aggregates of a stress run: many clients under one
// seeded fault schedule. Times are in milliseconds.
type StressStats struct {
	Clients    int     `json:"clients"`
	Workers    int     `json:"workers"`
	InProcess  bool    `json:"in_process,omitempty"`
	Timescale  float64 `json:"timescale"`
	Seed       int64   `json:"seed"`
	DurationMS float64 `json:"duration_ms"`
	// Profile states the client profile's timings.
	Profile string        `json:"profile"`
	Faults  []StressFault `json:"faults"`
	Up      Flow          `json:"up"`
	Down    Flow          `json:"down"`
	// Reconnects counts connections made after each client's first.
	Reconnects int `json:"reconnects"`
	// Resources has one entry per process: the coordinator, then the chain
	// shards, then the workers (in a merged result, each shard run's in
	// turn, named after its shard).
	Resources []ProcessResources `json:"resources"`

	// ChainShards is how many chain shard processes (each a Toxiproxy or
	// relay and fake servers for its share of the clients) served the
	// clients; in a merged result, the sum over the shard runs.
	ChainShards int `json:"chain_shards,omitempty"`
	// Proxy names what stood between the clients and the fake servers:
	// "relay" (the harness's lean relay) or "toxiproxy".
	Proxy string `json:"proxy,omitempty"`
	// OriginUnixNS is the wall-clock time, in Unix nanoseconds, of the
	// run's time 0: every t_ms of the run counts from it. A merged result
	// counts from the earliest of its shard runs' origins.
	OriginUnixNS int64 `json:"origin_unix_ns,omitempty"`
	// Shard is set when this run is one shard of a run split over several
	// machines (wschaos stress --shard I/N); wschaos merge combines them.
	Shard *StressShard `json:"shard,omitempty"`
	// Merged lists the shard runs a merged result was made from, in shard
	// order; empty for a run.
	Merged []StressShard `json:"merged,omitempty"`
	// MergeNote states what a merged result can and cannot claim.
	MergeNote string `json:"merge_note,omitempty"`
}

// StressShard says which share of a split run one shard run was.
type StressShard struct {
	// Index is the shard's index, 0 to Of-1; Of is how many shards the
	// run was split into.
	Index int `json:"index"`
	Of    int `json:"of"`
	// FirstClient and Clients are the shard's clients, c<FirstClient> on;
	// TotalClients is the whole run's.
	FirstClient  int `json:"first_client"`
	Clients      int `json:"clients"`
	TotalClients int `json:"total_clients"`
	// StartAtUnixNS is the scheduled wall-clock start of the fault
	// schedule every shard shares (0: as soon as its clients were warm).
	StartAtUnixNS int64 `json:"start_at_unix_ns,omitempty"`
	// OriginUnixNS is the shard run's time 0, Host the machine it ran on.
	OriginUnixNS int64  `json:"origin_unix_ns"`
	Host         string `json:"host,omitempty"`
	// Verdict is the shard run's own verdict.
	Verdict Verdict `json:"verdict,omitempty"`
}

// StressFault aggregates one fault over every client. The distributions are
// over the clients that had the figure.
type StressFault struct {
	Kind    string  `json:"kind"`
	Text    string  `json:"text"`
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
	// Disconnected counts clients that declared the connection lost,
	// Recovered those ready again before the next fault.
	Disconnected int          `json:"disconnected"`
	Recovered    int          `json:"recovered"`
	Detect       Distribution `json:"detect_ms"`
	// Redial is each client's first dial after it lost the connection or
	// after the fault ended, whichever is later: the client's own timing,
	// which its backoff policy bounds.
	Redial     Distribution `json:"redial_ms"`
	Recover    Distribution `json:"recover_ms"`
	Attempts   Distribution `json:"attempts"`
	RecoverCDF []CDFPoint   `json:"recover_cdf,omitempty"`
	// ReconnectsPer100ms counts clients becoming ready per 100 ms window
	// from the fault end; FirstDialsPer100ms counts each client's first
	// dial after the fault end, which the herd check holds.
	ReconnectsPer100ms []int `json:"reconnects_per_100ms,omitempty"`
	FirstDialsPer100ms []int `json:"first_dials_per_100ms,omitempty"`

	// Shards has each chain shard's timing of the fault: when it began
	// each step and when the step returned. StartSkewMS is how far apart
	// the shards began the fault (the latest begin minus the earliest),
	// EndSkewMS the same for its end; both 0 with one shard.
	Shards      []StressShardTiming `json:"shards,omitempty"`
	StartSkewMS float64             `json:"start_skew_ms"`
	EndSkewMS   float64             `json:"end_skew_ms"`
	// Raw holds every client's figures, from which the distributions,
	// the CDF and the histograms above are computed, so that shard runs
	// can be merged by recomputing them over all clients.
	Raw *StressRaw `json:"raw,omitempty"`
}

// StressShardTiming is one chain shard's timing of one fault, in ms on the
// run's clock. A fault without an end step has StopMS and EndMS 0.
type StressShardTiming struct {
	// Shard is the run's shard index (0 unless the run was split); Chain
	// the chain shard within it, from 1.
	Shard int `json:"shard"`
	Chain int `json:"chain"`
	// BeganMS is when the shard began applying the fault, StartMS when
	// the step had returned; StopMS and EndMS the same for its end.
	BeganMS float64 `json:"began_ms"`
	StartMS float64 `json:"start_ms"`
	StopMS  float64 `json:"stop_ms,omitempty"`
	EndMS   float64 `json:"end_ms,omitempty"`
}

// StressRaw is every client's figures for one fault, one value per client
// that had the figure (in no particular order), in whole microseconds.
// Detect counts from the fault's issue, redial and recover as the stress
// run defines them; FirstDialUS is each client's first dial after the
// fault's end and ReadyUS every ready after it, both counted from the end.
type StressRaw struct {
	DetectUS    Ints `json:"detect_us"`
	RedialUS    Ints `json:"redial_us"`
	RecoverUS   Ints `json:"recover_us"`
	Attempts    Ints `json:"attempts"`
	FirstDialUS Ints `json:"first_dial_us"`
	ReadyUS     Ints `json:"ready_us"`
}

// ProcessResources is one process's use of the machine over a run.
type ProcessResources struct {
	// Process is "coordinator" or "worker N".
	Process string `json:"process"`
	PID     int    `json:"pid"`
	Clients int    `json:"clients"`
	// CPUSeconds is user plus system CPU time.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PeakRSSBytes is the peak resident set size (getrusage ru_maxrss).
	PeakRSSBytes   int64 `json:"peak_rss_bytes"`
	PeakGoroutines int   `json:"peak_goroutines"`
	// PeakFDs is the most open file descriptors seen (/proc/self/fd,
	// sampled); -1 where /proc is not available.
	PeakFDs int `json:"peak_fds"`
	// FDLimit is the soft RLIMIT_NOFILE the process ran with.
	FDLimit int64 `json:"fd_limit"`
}
