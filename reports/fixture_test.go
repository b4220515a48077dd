package reports

import (
	"time"
)

func ptr(v float64) *float64 { return &v }

// fixedResult is the result every golden file is made from: a passing
// black-hole scenario, a failing withheld-pongs scenario with a gap, and a
// passing fatal-close scenario with an instant fault. Nothing in it depends
// on the clock.
func fixedResult() *Result {
	return &Result{
		Schema:      Schema,
		GeneratedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Run: RunInfo{
			Version:          "v0.1.0-test",
			GoVersion:        "go1.26.0",
			ToxiproxyMode:    "embedded",
			ToxiproxyVersion: "2.12.0",
			Seed:             42,
			Command:          "wschaos run -seed 42 -scenario 'BlackHole|PongWithheld|Logout4001' -client reference,slow-heartbeat,no-heartbeat",
			DurationMS:       14250,
		},
		Verdict:   Fail,
		Scenarios: []Scenario{blackHole(), pongWithheld(), logout(), pongWithheldMutant()},
		Clients: []Client{
			{Name: "reference", Description: "the reference client"},
			{Name: "slow-heartbeat", Description: "an outside client: ./bot --ping 1s"},
			{Name: "no-heartbeat", Description: "reference with the heartbeat removed", Mutant: true, Caught: true, CaughtBy: []string{"PongWithheld: detect"}},
		},
	}
}

// pongWithheldMutant is PongWithheld against a mutant that it catches.
func pongWithheldMutant() Scenario {
	s := pongWithheld()
	s.Client = "no-heartbeat"
	s.Description = "The same fault against a client with no heartbeat: it must fail."
	s.Checks = s.Checks[:1]
	s.Checks[0].Got, s.Checks[0].Margin = "never", "no detection within 3000 ms"
	s.Measured = Measured{}
	return s
}

// pings appends a ping/pong pair every interval in [from, to).
func pings(tl []Event, conn uint64, from, to, interval float64) []Event {
	for t := from; t < to; t += interval {
		tl = append(tl,
			Event{TMS: t, Source: "client", Conn: conn, Kind: "ping"},
			Event{TMS: t + 2.5, Source: "client", Conn: conn, Kind: "pong"})
	}
	return tl
}

func blackHole() Scenario {
	var tl []Event
	tl = append(tl,
		Event{TMS: 0, Source: "client", Conn: 1, Kind: "dialing", Attempt: 1},
		Event{TMS: 9.2, Source: "tap", Conn: 1, Kind: "connect"},
		Event{TMS: 11.8, Source: "server", Conn: 1, Kind: "accepted"},
		Event{TMS: 14.1, Source: "client", Conn: 1, Kind: "ready"},
	)
	tl = pings(tl, 1, 214, 1000, 200)
	tl = append(tl,
		Event{TMS: 1000, Source: "harness", Kind: "fault_start", Detail: "timeout toxic, timeout 0"},
		Event{TMS: 1014, Source: "client", Conn: 1, Kind: "ping"},
		Event{TMS: 1312.4, Source: "client", Conn: 1, Kind: "disconnected", Code: 1006, Reason: "pong timeout"},
		Event{TMS: 1313, Source: "client", Kind: "backoff", Attempt: 2, DelayMS: 120},
		Event{TMS: 1316, Source: "tap", Conn: 1, Kind: "close"},
		Event{TMS: 1433, Source: "client", Conn: 2, Kind: "dialing", Attempt: 2},
		Event{TMS: 1933, Source: "client", Conn: 2, Kind: "disconnected", Reason: "handshake timeout"},
		Event{TMS: 1934, Source: "client", Kind: "backoff", Attempt: 3, DelayMS: 260},
		Event{TMS: 2194, Source: "client", Conn: 3, Kind: "dialing", Attempt: 3},
		Event{TMS: 2694, Source: "client", Conn: 3, Kind: "disconnected", Reason: "handshake timeout"},
		Event{TMS: 2695, Source: "client", Kind: "backoff", Attempt: 4, DelayMS: 540},
		Event{TMS: 3000, Source: "harness", Kind: "fault_end"},
		Event{TMS: 3235, Source: "client", Conn: 4, Kind: "dialing", Attempt: 4},
		Event{TMS: 3241, Source: "tap", Conn: 4, Kind: "connect"},
		Event{TMS: 3244, Source: "server", Conn: 4, Kind: "accepted", Detail: "resumed session"},
		Event{TMS: 3251.6, Source: "client", Conn: 4, Kind: "ready"},
	)
	tl = pings(tl, 4, 3451, 4000, 200)
	return Scenario{
		Name:        "BlackHole",
		Description: "The proxy swallows every byte for 2 s with the connection left open (half-open TCP). The client must notice through its heartbeat, not through TCP.",
		Client:      "reference",
		Verdict:     Pass,
		DurationMS:  4000,
		Faults:      []Fault{{Kind: "black_hole", Detail: "timeout toxic, timeout 0, both directions", StartMS: 1000, EndMS: 3000}},
		Targets: []Target{
			{Name: "detect", Want: "<= 350 ms", Limit: 350, Why: "PingInterval 200ms + PongTimeout 150ms"},
			{Name: "recover", Want: "<= 1200 ms", Limit: 1200, Why: "max backoff 1s + one round trip"},
			{Name: "lost", Want: "0", Limit: 0, Why: "outbox resend and resume"},
		},
		Checks: []Check{
			{Name: "detect", OK: true, Got: "312.4 ms", Want: "<= 350 ms", Margin: "312 ms of a 350 ms budget"},
			{Name: "recover", OK: true, Got: "262 ms", Want: "<= 1200 ms", Margin: "262 ms of a 1200 ms budget"},
			{Name: "lost", OK: true, Got: "0", Want: "0"},
			{Name: "backoff", OK: true, Got: "120, 260, 540 ms", Want: "within policy"},
		},
		Measured: Measured{
			DetectMS: ptr(312.4), RecoverMS: ptr(262), DowntimeMS: ptr(2248),
			Attempts: 4, Reconnects: 1, DelaysMS: []float64{120, 260, 540},
			Up: &Flow{Sent: 40, Delivered: 40}, Down: &Flow{Sent: 38, Delivered: 38}, Resumed: 1,
			DetectedAtMS: ptr(1312.4), RecoveredAtMS: ptr(3262),
		},
		Timeline: tl,
	}
}

func pongWithheld() Scenario {
	var tl []Event
	tl = append(tl,
		Event{TMS: 0, Source: "client", Conn: 1, Kind: "dialing", Attempt: 1},
		Event{TMS: 8, Source: "server", Conn: 1, Kind: "accepted"},
		Event{TMS: 12, Source: "client", Conn: 1, Kind: "ready"},
	)
	tl = pings(tl, 1, 512, 800, 500)
	tl = append(tl,
		Event{TMS: 800, Source: "server", Conn: 1, Kind: "withhold_pongs"},
		Event{TMS: 1012, Source: "client", Conn: 1, Kind: "ping"},
		Event{TMS: 1512, Source: "client", Conn: 1, Kind: "ping"},
		Event{TMS: 1320, Source: "client", Conn: 1, Kind: "msg_sent", Seq: 7},
		Event{TMS: 1842, Source: "client", Conn: 1, Kind: "disconnected", Code: 1006, Reason: "pong timeout <late>"},
		Event{TMS: 1843, Source: "client", Kind: "backoff", Attempt: 2, DelayMS: 80},
		Event{TMS: 1923, Source: "client", Conn: 2, Kind: "dialing", Attempt: 2},
		Event{TMS: 1931, Source: "server", Conn: 2, Kind: "accepted"},
		Event{TMS: 1935, Source: "client", Conn: 2, Kind: "ready"},
		Event{TMS: 1936, Source: "client", Conn: 2, Kind: "gap", Detail: "resume window expired, seq 5..7 lost"},
		Event{TMS: 2400, Source: "server", Conn: 2, Kind: "pongs_restored"},
	)
	tl = pings(tl, 2, 2435, 3000, 500)
	return Scenario{
		Name:        "PongWithheld",
		Description: "The server stops answering pings while TCP stays healthy; only an application heartbeat can see it. <script>alert('x')</script> & friends must stay text.",
		Client:      "slow-heartbeat",
		Verdict:     Fail,
		DurationMS:  3000,
		Faults:      []Fault{{Kind: "withhold_pongs", StartMS: 800, EndMS: 2400}},
		Targets: []Target{
			{Name: "detect", Want: "<= 350 ms", Limit: 350, Why: "PingInterval 200ms + PongTimeout 150ms"},
			{Name: "recover", Want: "<= 1200 ms", Limit: 1200, Why: "max backoff 1s + one round trip"},
			{Name: "lost", Want: "0", Limit: 0},
		},
		Checks: []Check{
			{Name: "detect", OK: false, Got: "1042 ms", Want: "<= 350 ms", Margin: "missed by 692 ms"},
			{Name: "recover", OK: true, Got: "0 ms", Want: "<= 1200 ms", Margin: "already connected at fault end"},
			{Name: "lost", OK: false, Got: "3 (seq 5..7)", Want: "0", Margin: "missed by 3"},
			{Name: "reordered", OK: true, NotApplicable: true, Got: "not judged: the client does not ack"},
		},
		Measured: Measured{
			DetectMS: ptr(1042), RecoverMS: ptr(0), DowntimeMS: ptr(631),
			Attempts: 2, Reconnects: 1, DelaysMS: []float64{80},
			Up: &Flow{Sent: 20, Delivered: 17, Lost: 3, Missing: []uint64{5, 6, 7}}, Down: &Flow{Sent: 30, Delivered: 30},
		},
		Timeline: tl,
	}
}

func logout() Scenario {
	return Scenario{
		Name:        "Logout4001",
		Description: "The server closes with application code 4001 \"logged out\": a fatal reason. The client must stop without retrying and say why.",
		Client:      "reference",
		Verdict:     Pass,
		DurationMS:  1500,
		Faults:      []Fault{{Kind: "close_frame", Detail: "code 4001 \"logged out\"", StartMS: 600, EndMS: 600}},
		Targets: []Target{
			{Name: "attempts_after_fatal", Want: "0", Limit: 0, Why: "4001 is fatal in the taxonomy"},
		},
		Checks: []Check{
			{Name: "attempts_after_fatal", OK: true, Got: "0", Want: "0"},
			{Name: "fatal_reason", OK: true, Got: "logged out (4001)", Want: "logged out"},
		},
		Measured: Measured{Attempts: 0},
		Timeline: []Event{
			{TMS: 0, Source: "client", Conn: 1, Kind: "dialing", Attempt: 1},
			{TMS: 10, Source: "client", Conn: 1, Kind: "ready"},
			{TMS: 210, Source: "client", Conn: 1, Kind: "ping"},
			{TMS: 212, Source: "client", Conn: 1, Kind: "pong"},
			{TMS: 410, Source: "client", Conn: 1, Kind: "ping"},
			{TMS: 412, Source: "client", Conn: 1, Kind: "pong"},
			{TMS: 600, Source: "server", Conn: 1, Kind: "close_sent", Code: 4001, Reason: "logged out"},
			{TMS: 601.5, Source: "client", Conn: 1, Kind: "disconnected", Code: 4001, Reason: "logged out"},
			{TMS: 602, Source: "client", Kind: "fatal", Code: 4001, Reason: "logged out"},
		},
	}
}
