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
	// Resources has one entry per process: the coordinator, then workers.
	Resources []ProcessResources `json:"resources"`
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
