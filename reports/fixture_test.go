package reports

import (
	"fmt"
	"math"
	"slices"
	"time"
)

func ptr(v float64) *float64 { return &v }

// fixedResult is the result every golden file is made from: a passing
// black-hole scenario, a failing withheld-pongs scenario with a gap, a
// passing fatal-close scenario with an instant fault, and a herd of eight
// clients losing the proxy at once; against the reference client, an
// outside client and two mutants, one caught and one not, so the matrix has
// every kind of cell. Nothing in it depends on the clock.
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
		Verdict: Fail,
		Scenarios: []Scenario{blackHole(), pongWithheld(), logout(), pongWithheldMutant(),
			massDrop(), blackHoleMutant(), logoutMutant(), against(blackHole(), "no-jitter"), against(massDrop(), "no-jitter")},
		Clients: []Client{
			{Name: "reference", Description: "the reference client"},
			{Name: "slow-heartbeat", Description: "an outside client: ./bot --ping 1s"},
			{Name: "no-heartbeat", Description: "reference with the heartbeat removed", Mutant: true, Caught: true, CaughtBy: []string{"PongWithheld: detect", "BlackHole: detect"}},
			{Name: "no-jitter", Description: "backs off without jitter", Mutant: true},
		},
	}
}

// against is s run against another client, with the same outcome. Only
// the start of the timeline is kept: sections against a mutant that did not
// catch it are drawn without one, and the golden files stay small.
func against(s Scenario, client string) Scenario {
	s.Client = client
	s.Timeline = s.Timeline[:min(len(s.Timeline), 6)]
	return s
}

// blackHoleMutant is BlackHole against the mutant without a heartbeat: it
// catches it, and is the first scenario in row order to do so, so its
// section is drawn in full while PongWithheld's is compact.
func blackHoleMutant() Scenario {
	s := against(blackHole(), "no-heartbeat")
	s.Verdict = Fail
	s.Checks = []Check{
		{Name: "detect", OK: false, Got: "never", Want: "<= 350 ms", Margin: "no detection within 2000 ms"},
		{Name: "recover", OK: false, Got: "never", Want: "<= 1200 ms", Margin: "never recovered"},
		{Name: "lost", OK: true, Got: "0", Want: "0"},
	}
	s.Measured = Measured{Attempts: 1}
	s.Timeline = s.Timeline[:4]
	return s
}

// logoutMutant is Logout4001 against the mutant without a heartbeat, which
// it does not catch.
func logoutMutant() Scenario { return against(logout(), "no-heartbeat") }

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
		Event{TMS: 1313, Source: "client", Kind: "backoff", Attempt: 1, DelayMS: 120},
		Event{TMS: 1316, Source: "tap", Conn: 1, Kind: "close"},
		Event{TMS: 1433, Source: "client", Conn: 2, Kind: "dialing", Attempt: 2},
		Event{TMS: 1933, Source: "client", Conn: 2, Kind: "disconnected", Reason: "handshake timeout"},
		Event{TMS: 1934, Source: "client", Kind: "backoff", Attempt: 2, DelayMS: 260},
		Event{TMS: 2194, Source: "client", Conn: 3, Kind: "dialing", Attempt: 3},
		Event{TMS: 2694, Source: "client", Conn: 3, Kind: "disconnected", Reason: "handshake timeout"},
		Event{TMS: 2695, Source: "client", Kind: "backoff", Attempt: 3, DelayMS: 540},
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
		Policy:   &BackoffPolicy{InitialMS: 150, MaxMS: 1000, Multiplier: 2, Jitter: 0.5},
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
		Event{TMS: 1843, Source: "client", Kind: "backoff", Attempt: 1, DelayMS: 80},
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
		// The outside client's first delay, 80 ms, is below this policy's
		// envelope for retry 1 (100 to 200 ms): the chart marks it.
		Policy:   &BackoffPolicy{InitialMS: 200, MaxMS: 2000, Multiplier: 2, Jitter: 0.5},
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

// massDrop is eight clients losing the proxy at once for 1.5 s. Each backs
// off within the policy, with a fixed spread of jitter, and dials until the
// proxy is back; the herd-spread and recovery figures are worked out from
// the timeline as the harness would.
func massDrop() Scenario {
	const (
		clients         = 8
		start, end      = 500.0, 2000.0
		initial, maxMS  = 100.0, 800.0
		mult, jitter    = 2.0, 0.5
		window, allowed = 100.0, 3
	)
	var tl []Event
	for i := range clients {
		id := fmt.Sprintf("c%d", i+1)
		tl = append(tl,
			Event{TMS: 2 + float64(i), Source: "client", Client: id, Conn: 1, Kind: "dialing"},
			Event{TMS: 10 + float64(i), Source: "client", Client: id, Conn: 1, Kind: "ready"})
	}
	tl = append(tl, Event{TMS: start, Source: "harness", Kind: "fault_start", Detail: "proxy disabled"})
	worstDetect, worstRecover := 0.0, 0.0
	firsts := map[int]int{}
	for i := range clients {
		id := fmt.Sprintf("c%d", i+1)
		t := start + 5 + 2*float64(i)
		worstDetect = max(worstDetect, t-start)
		tl = append(tl, Event{TMS: t, Source: "client", Client: id, Conn: 1, Kind: "disconnected", Code: 1006, Reason: "EOF"})
		conn := uint64(1)
		for attempt := 1; ; attempt++ {
			base := min(initial*math.Pow(mult, float64(attempt-1)), maxMS)
			u := float64((i*37+attempt*11)%100) / 100
			d := base * (1 - jitter*u)
			conn++
			dial := t + 0.5 + d
			tl = append(tl,
				Event{TMS: t + 0.5, Source: "client", Client: id, Conn: conn - 1, Kind: "backoff", Attempt: attempt, DelayMS: d},
				Event{TMS: dial, Source: "client", Client: id, Conn: conn, Kind: "dialing", Attempt: attempt})
			if dial < end {
				t = dial + 1
				tl = append(tl, Event{TMS: t, Source: "client", Client: id, Conn: conn, Kind: "disconnected", Reason: "connection refused"})
				continue
			}
			firsts[int((dial-end)/window)]++
			tl = append(tl, Event{TMS: dial + 4, Source: "client", Client: id, Conn: conn, Kind: "ready", Attempt: attempt})
			worstRecover = max(worstRecover, dial+4-end)
			break
		}
	}
	tl = append(tl, Event{TMS: end, Source: "harness", Kind: "fault_end"})
	sortEvents(tl)
	worst, at := 0, 0
	for w, n := range firsts {
		if n > worst || (n == worst && w < at) {
			worst, at = n, w
		}
	}
	return Scenario{
		Name:        "MassDrop",
		Description: "Eight clients lose the proxy at once for 1.5 s. Every client must recover, and their reconnects must be spread out.",
		Client:      "reference",
		Verdict:     Pass,
		DurationMS:  3200,
		Faults:      []Fault{{Kind: "proxy-down", Detail: "proxy disabled (FIN, then refused dials)", StartMS: start, IssuedMS: start - 4, EndMS: end}},
		Targets: []Target{
			{Name: "recover", Want: "<= 900 ms", Limit: 900, Why: "longest delay pending at the fault end, + slack"},
			{Name: "herd-spread", Want: fmt.Sprintf("<= %d per 100ms", allowed), Limit: allowed, Why: "jitter 50% spreads the herd over 400 ms"},
		},
		Checks: []Check{
			{Name: "recover", OK: true, Got: fmtMS(worstRecover), Want: "<= 900 ms"},
			{Name: "herd-spread", OK: worst <= allowed, Got: fmt.Sprintf("%d in one window (+%dms), %d clients dialled", worst, at*100, clients), Want: fmt.Sprintf("<= %d per 100ms", allowed)},
		},
		Measured: Measured{DetectMS: ptr(worstDetect), RecoverMS: ptr(worstRecover), Attempts: 5, Reconnects: clients},
		Policy:   &BackoffPolicy{InitialMS: initial, MaxMS: maxMS, Multiplier: mult, Jitter: jitter},
		Timeline: tl,
	}
}

// sortEvents orders events by time, keeping the order of equal times.
func sortEvents(tl []Event) {
	for i := 1; i < len(tl); i++ {
		for j := i; j > 0 && tl[j].TMS < tl[j-1].TMS; j-- {
			tl[j], tl[j-1] = tl[j-1], tl[j]
		}
	}
}

// stressResult is a stress run of 40 clients over two workers: a
// proxy-down that every client recovers from, a latency fault that cuts
// nobody off, and an instant close 1012 after which one client never comes
// back and the rest are slow, so its recover check fails. Its figures are
// worked out here as the stress coordinator would.
func stressResult() *Result {
	const clients = 40
	up := func(i int) float64 { return float64((i * 37) % clients) } // a fixed shuffle of 0..39
	var rec1, det1, rec3, det3, att1 []float64
	for i := range clients {
		rec1 = append(rec1, 250+45*up(i))
		det1 = append(det1, up(i)/10)
		att1 = append(att1, float64(1+i%3))
		det3 = append(det3, 40+up(i))
		if i > 0 {
			rec3 = append(rec3, 900+30*up(i))
		}
	}
	faults := []StressFault{
		stressFault("proxy-down", "proxy disabled for 2.5s (FIN, then refused dials)", 12000, 14500, clients, det1, rec1, att1),
		stressFault("latency", "+400 ms each way", 24000, 28000, 0, nil, nil, nil),
		stressFault("close-1012", `close 1012 "service restart" <b>now</b>`, 30000, 30000, clients, det3, rec3, att1[:clients-1]),
	}
	faults[1].Recover = Distribution{N: clients} // already connected at the end: 0 ms each
	var tl []Event
	tl = append(tl,
		Event{TMS: 3, Source: "client", Client: "c1", Conn: 1, Kind: "dialing", Attempt: 1},
		Event{TMS: 9, Source: "client", Client: "c1", Conn: 1, Kind: "ready"},
		Event{TMS: 12000, Source: "harness", Kind: "fault_start", Detail: "proxy-down"},
		Event{TMS: 12001, Source: "client", Client: "c1", Conn: 1, Kind: "disconnected", Code: 1006},
		Event{TMS: 14500, Source: "harness", Kind: "fault_end"},
		Event{TMS: 14750, Source: "client", Client: "c1", Conn: 2, Kind: "dialing", Attempt: 1},
		Event{TMS: 14758, Source: "client", Client: "c1", Conn: 2, Kind: "ready"},
		Event{TMS: 30000, Source: "harness", Kind: "fault_start", Detail: "close-1012"},
		Event{TMS: 30040, Source: "client", Client: "c1", Conn: 2, Kind: "disconnected", Code: 1012},
	)
	targets := []Target{
		{Name: "f1-proxy-down-detect", Want: "p99 <= 1100 ms, all 40 clients", Limit: 1100},
		{Name: "f1-proxy-down-recover", Want: "p99 <= 5000 ms, all 40 clients", Limit: 5000},
		{Name: "f1-proxy-down-attempts", Want: "<= 5 per client", Limit: 5},
		{Name: "f2-latency-no-reconnect", Want: "0 disconnects"},
		{Name: "f3-close-1012-detect", Want: "p99 <= 1100 ms, all 40 clients", Limit: 1100},
		{Name: "f3-close-1012-recover", Want: "p99 <= 1500 ms, all 40 clients", Limit: 1500},
		{Name: "f3-close-1012-attempts", Want: "<= 2 per client", Limit: 2},
	}
	checks := make([]Check, 0, len(targets))
	for _, t := range targets {
		checks = append(checks, Check{Name: t.Name, OK: t.Name != "f3-close-1012-recover" && t.Name != "f3-close-1012-attempts", Want: t.Want, Got: "as drawn"})
	}
	return &Result{
		Schema:      Schema,
		GeneratedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Run:         RunInfo{Version: "v0.1.0-test", GoVersion: "go1.26.0", ToxiproxyMode: "embedded", Seed: 7, Command: "wschaos stress --clients 40 --duration 40s --seed 7", DurationMS: 41000},
		Verdict:     Fail,
		Scenarios: []Scenario{{
			Name: "Stress", Client: "reference", Verdict: Fail, DurationMS: 41000,
			Description: "40 reference clients over 2 workers; a seeded schedule of 3 mass faults.",
			Faults: []Fault{
				{Kind: "proxy-down", StartMS: 12000, EndMS: 14500},
				{Kind: "latency", StartMS: 24000, EndMS: 28000},
				{Kind: "close-1012", StartMS: 30000, EndMS: 30000},
			},
			Targets: targets, Checks: checks,
			Measured: Measured{DetectMS: ptr(79), RecoverMS: ptr(2005), Attempts: 3, Reconnects: 79},
			Timeline: tl,
			Stress: &StressStats{
				Clients: clients, Workers: 2, Timescale: 1, Seed: 7, DurationMS: 40000,
				Profile:    "PingInterval 10s, PongTimeout 5s, Backoff 1s..5s x2 jitter 50%",
				Faults:     faults,
				Up:         Flow{Sent: 800, Delivered: 800},
				Down:       Flow{Sent: 800, Delivered: 800, Duplicated: 1, Gap: 2},
				Reconnects: 79,
				Resources: []ProcessResources{
					{Process: "coordinator", PID: 100, CPUSeconds: 1.25, PeakRSSBytes: 48 << 20, PeakGoroutines: 420, PeakFDs: 130, FDLimit: 20000},
					{Process: "worker 1", PID: 101, Clients: 20, CPUSeconds: 0.875, PeakRSSBytes: 30 << 20, PeakGoroutines: 130, PeakFDs: 46, FDLimit: 20000},
					{Process: "worker 2", PID: 102, Clients: 20, CPUSeconds: 0.5, PeakRSSBytes: 29 << 20, PeakGoroutines: 128, PeakFDs: -1, FDLimit: 1024},
				},
			},
		}},
	}
}

// stressFault aggregates one fault as the stress coordinator does:
// distributions of the figures, a CDF of the recovery times and the
// clients ready again per 100 ms from the fault's end.
func stressFault(kind, detail string, start, end float64, lost int, detect, recov, attempts []float64) StressFault {
	f := StressFault{Kind: kind, Detail: detail, StartMS: start, EndMS: end, Disconnected: lost, Recovered: len(recov),
		Detect: distribution(detect), Recover: distribution(recov), Attempts: distribution(attempts)}
	sorted := slices.Sorted(slices.Values(recov))
	for i, v := range sorted {
		if i%2 == 1 || i == len(sorted)-1 { // every other point, as the coordinator thins them
			f.RecoverCDF = append(f.RecoverCDF, CDFPoint{MS: v, Fraction: float64(i+1) / float64(len(sorted))})
		}
		w := int(v / 100)
		for len(f.ReconnectsPer100ms) <= w {
			f.ReconnectsPer100ms = append(f.ReconnectsPer100ms, 0)
		}
		f.ReconnectsPer100ms[w]++
	}
	f.FirstDialsPer100ms = slices.Clone(f.ReconnectsPer100ms)
	return f
}

func distribution(vals []float64) Distribution {
	if len(vals) == 0 {
		return Distribution{}
	}
	s := slices.Sorted(slices.Values(vals))
	return Distribution{N: len(s), P50: percentile(s, 50), P90: percentile(s, 90), P99: percentile(s, 99), Max: s[len(s)-1]}
}
