package harness

import (
	"fmt"
	"math"
	"slices"

	"github.com/wschaos/wschaos/result"
)

// Direction names.
const (
	DirUp   = "up"   // client to server
	DirDown = "down" // server to client
)

// Flows counts both directions for one client from the timeline:
//
//   - up: the workload's sent sequence numbers against the server's
//     deliveries (recv); the server delivers in order and drops duplicates
//     it detects (dup), so a second recv of a sequence is a duplicate the
//     application saw. Messages the client reported it gave up on
//     (undelivered) are not lost: they are counted apart.
//   - down: the server's writes (send, replays included) and the holes in
//     the client's delivered sequence, against the client's deliveries.
//     Messages the client was told are gone (gap events) are not lost.
func (tl *Timeline) Flows(id string) (up, down result.Flow) {
	up, down, _ = tl.flows(id)
	return up, down
}

// flowLog is one client's sequence numbers per direction, as the timeline
// shows them.
type flowLog struct {
	sentUp, sentDown   map[uint64]bool
	recvUp, recvDown   map[uint64]int
	upOrder, downOrder []uint64
	undelivered        map[uint64]bool
	gap                int
}

func (tl *Timeline) flowLog(id string) flowLog {
	l := flowLog{sentUp: map[uint64]bool{}, sentDown: map[uint64]bool{}, recvUp: map[uint64]int{}, recvDown: map[uint64]int{},
		undelivered: map[uint64]bool{}}
	drainAt := math.Inf(1)
	if i := slices.IndexFunc(tl.Events, func(e result.Event) bool { return e.Kind == result.KindDrain }); i >= 0 {
		drainAt = tl.Events[i].TMS
	}
	for _, e := range tl.Events {
		if e.Client != id {
			continue
		}
		if e.TMS > drainAt && (e.Kind == result.KindSent || e.Kind == result.KindSend) {
			continue // produced after the workload stopped: not counted
		}
		switch e.Kind {
		case result.KindSent:
			l.sentUp[e.Seq] = true
		case result.KindRecv:
			l.recvUp[e.Seq]++
			l.upOrder = append(l.upOrder, e.Seq)
		case result.KindSend:
			l.sentDown[e.Seq] = true
		case result.KindReceived:
			l.recvDown[e.Seq]++
			l.downOrder = append(l.downOrder, e.Seq)
		case result.KindGap:
			l.gap += int(e.Count)
		case result.KindUndelivered:
			for _, q := range e.Seqs {
				l.undelivered[q] = true
			}
		}
	}
	return l
}

// flows is Flows plus holes: how many server sequence numbers are missing
// from the client's deliveries between its first and last, whether or not a
// gap event accounts for them.
func (tl *Timeline) flows(id string) (up, down result.Flow, holes int) {
	l := tl.flowLog(id)
	up = flow(l.sentUp, l.recvUp, l.upOrder, l.undelivered)
	down = flow(l.sentDown, l.recvDown, l.downOrder, nil)
	down.Gap = l.gap
	// Holes in the delivered sequence that no gap event accounts for are
	// lost too, even if the server never wrote them to a connection.
	if len(l.downOrder) > 0 {
		unsent := 0
		for q := slices.Min(l.downOrder); q <= slices.Max(l.downOrder); q++ {
			if l.recvDown[q] == 0 {
				holes++
				if !l.sentDown[q] {
					unsent++
				}
			}
		}
		down.Lost += max(unsent-down.Gap, 0)
	}
	return up, down, holes
}

func flow(sent map[uint64]bool, recv map[uint64]int, order []uint64, undelivered map[uint64]bool) result.Flow {
	f := result.Flow{Sent: len(sent)}
	for _, n := range recv {
		f.Delivered++
		if n > 1 {
			f.Duplicated += n - 1
		}
	}
	var missing []uint64
	for s := range sent {
		switch {
		case recv[s] > 0:
		case undelivered[s]:
			f.Undelivered++
		default:
			f.Lost++
			missing = append(missing, s)
		}
	}
	slices.Sort(missing)
	if len(missing) > 10 {
		missing = missing[:10]
	}
	f.Missing = missing
	var top uint64
	for _, s := range order {
		if s < top {
			f.Reordered++
		}
		top = max(top, s)
	}
	return f
}

// What the session-only checks read.
const (
	needsSeqs   = "counts messages by the session protocol's sequence numbers, against the fake server's record of them"
	needsRecord = "holds what the client reports against the fake server's record of what it received"
	needsAcks   = "counts from the first message the fake server never received, and only the session protocol acknowledges messages"
	// needsServerRecv is not session-only: a plain client's messages are
	// recorded by the fake server too.
	needsServerRecv = "reads the fake server's record of when the client's messages arrived"
)

// sessionOnly marks c as reading what only the session protocol and the
// fake server's record of it show (needs says what): for a plain client it
// is n/a, and a scenario it defines cannot run against a real server.
func sessionOnly(needs string, c Check) Check {
	c.needs = needs
	eval := c.Eval
	c.Eval = func(tl *Timeline) result.Check {
		if tl.Plain {
			return NotApplicable(c.Target, "plain client: the check "+needs)
		}
		return eval(tl)
	}
	return c
}

// NoLoss requires zero lost, duplicated and reordered messages in both
// directions for every client, with messages flowing in both.
func NoLoss(why string) Check {
	t := result.Target{Name: "continuity", Want: "lost 0, duplicated 0, reordered 0, both ways", Unit: result.UnitCount, Why: why}
	return sessionOnly(needsSeqs, Check{Target: t, Eval: func(tl *Timeline) result.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return NotApplicable(t, needsCooperation(out))
		}
		if len(tl.Clients) == 0 {
			return NotApplicable(t, "no client ran")
		}
		var tot [2]result.Flow
		var bad []string
		for _, id := range tl.Clients {
			up, down := tl.Flows(id)
			for i, f := range []result.Flow{up, down} {
				dir := []string{DirUp, DirDown}[i]
				AddFlow(&tot[i], f)
				if f.Lost+f.Duplicated+f.Reordered > 0 {
					bad = append(bad, fmt.Sprintf("%s %s: lost %d %v, duplicated %d, reordered %d",
						id, dir, f.Lost, f.Missing, f.Duplicated, f.Reordered))
				}
				if f.Delivered == 0 {
					bad = append(bad, fmt.Sprintf("%s %s: no message delivered at all", id, dir))
				}
			}
		}
		got := fmt.Sprintf("up: %d sent, %d lost, %d dup, %d reordered; down: %d delivered, %d lost, %d dup, %d reordered",
			tot[0].Sent, tot[0].Lost, tot[0].Duplicated, tot[0].Reordered,
			tot[1].Delivered, tot[1].Lost, tot[1].Duplicated, tot[1].Reordered)
		bad0 := float64(tot[0].Lost + tot[0].Duplicated + tot[0].Reordered + tot[1].Lost + tot[1].Duplicated + tot[1].Reordered)
		return Verdict(t, len(bad) == 0, got, ptr(bad0), abbrev(bad))
	}})
}

// UndeliveredReported is for scenarios that end a session fatally: every
// message the client accepted and the server never received must be
// reported to the application as undelivered, and nothing else; messages
// must not vanish silently.
func UndeliveredReported(why string) Check {
	t := result.Target{Name: "undelivered-reported", Want: "reported undelivered = accepted and never received", Why: why}
	return sessionOnly(needsRecord, Check{Target: t, Eval: func(tl *Timeline) result.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return NotApplicable(t, needsCooperation(out))
		}
		var got, bad []string
		sent := 0
		for _, id := range tl.Clients {
			l := tl.flowLog(id)
			sent += len(l.sentUp)
			var never, wrong []uint64
			for q := range l.sentUp {
				if l.recvUp[q] == 0 && !l.undelivered[q] {
					never = append(never, q)
				}
			}
			for q := range l.undelivered {
				if l.recvUp[q] > 0 || !l.sentUp[q] {
					wrong = append(wrong, q)
				}
			}
			slices.Sort(never)
			slices.Sort(wrong)
			got = append(got, fmt.Sprintf("%s: %d reported", id, len(l.undelivered)))
			if len(never) > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d never received and not reported (seq %v)", id, len(never), clip(never)))
			}
			if len(wrong) > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d reported that the server had (seq %v)", id, len(wrong), clip(wrong)))
			}
		}
		if sent == 0 {
			return NotApplicable(t, "no message was sent")
		}
		return Verdict(t, len(bad) == 0, abbrev(got), nil, abbrev(bad))
	}})
}

func clip(s []uint64) []uint64 { return s[:min(len(s), 10)] }

// BackpressureReported is for scenarios where the application sends faster
// than an outage lets the client deliver: the client must refuse messages
// (outbox full) rather than take them without bound; what it accepted must
// still arrive (NoLoss judges that).
func BackpressureReported(why string) Check {
	t := result.Target{Name: "backpressure", Want: "Send refused with outbox-full while the link was down", Unit: result.UnitCount, Why: why}
	return perClient(t, func(tl *Timeline, id string) clientVerdict {
		if tl.Outside(id) {
			return nothingToJudge("outside client: its sends are not seen")
		}
		refused, accepted := 0, 0
		for _, e := range tl.ClientEvents(id) {
			switch {
			case e.Kind == result.KindSendError && e.Cause == result.CauseOutboxFull:
				refused++
			case e.Kind == result.KindSent:
				accepted++
			}
		}
		return judgedIf(fmt.Sprintf("%d refused, %d accepted", refused, accepted),
			fmt.Sprintf("accepted all %d messages: no backpressure, the outbox grew without bound", accepted), refused > 0)
	})
}

// GapReported is for scenarios that lose server messages on purpose: every
// client must have been told exactly how many it lost, and nothing else may
// be lost, duplicated or reordered.
func GapReported(why string) Check {
	t := result.Target{Name: "gap-reported", Want: "reported gap = missing messages > 0", Why: why}
	return sessionOnly(needsSeqs, Check{Target: t, Eval: func(tl *Timeline) result.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return NotApplicable(t, needsCooperation(out))
		}
		var got, bad []string
		missing := 0
		for _, id := range tl.Clients {
			up, down, holes := tl.flows(id)
			missing += holes
			got = append(got, fmt.Sprintf("%s: gap %d, missing %d", id, down.Gap, holes))
			switch {
			case down.Gap != holes:
				bad = append(bad, fmt.Sprintf("%s: told %d lost, %d missing", id, down.Gap, holes))
			}
			if up.Lost+up.Duplicated+up.Reordered+down.Duplicated+down.Reordered > 0 {
				bad = append(bad, fmt.Sprintf("%s: up lost %d dup %d reordered %d; down dup %d reordered %d",
					id, up.Lost, up.Duplicated, up.Reordered, down.Duplicated, down.Reordered))
			}
		}
		if len(bad) == 0 && missing == 0 {
			return NotApplicable(t, "nothing went missing: the outage did not outlast what the server keeps for resume")
		}
		return Verdict(t, len(bad) == 0, abbrev(got), nil, abbrev(bad))
	}})
}

// needsCooperation says why message continuity cannot be judged for outside
// clients.
func needsCooperation(ids []string) string {
	return fmt.Sprintf("%s: outside client; message continuity needs the client to report what it sent and received, which only the reference client does", abbrev(ids))
}
