package harness

import (
	"fmt"
	"math"
	"slices"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/reports"
)

// Direction names.
const (
	DirUp   = "up"   // client to server
	DirDown = "down" // server to client
)

// Flow counts one direction's messages for one client.
type Flow = reports.Flow

// Flows counts both directions for one client from the timeline:
//
//   - up: the workload's sent sequence numbers against the server's
//     deliveries ("recv"); the server delivers in order and drops duplicates
//     it detects ("dup"), so a second "recv" of a sequence is a duplicate the
//     application saw.
//   - down: the server's writes ("send", replays included) and the holes in
//     the client's delivered sequence, against the client's deliveries.
//     Messages the client was told are gone (gap events) are not lost.
func (tl *Timeline) Flows(id string) (up, down Flow) {
	up, down, _ = tl.flows(id)
	return up, down
}

// flows is Flows plus holes: how many server sequence numbers are missing
// from the client's deliveries between its first and last, whether or not a
// gap event accounts for them.
func (tl *Timeline) flows(id string) (up, down Flow, holes int) {
	sentUp := map[uint64]bool{}
	recvUp := map[uint64]int{}
	var upOrder []uint64
	sentDown := map[uint64]bool{}
	recvDown := map[uint64]int{}
	var downOrder []uint64
	drainAt := math.Inf(1)
	for _, e := range tl.Events {
		if e.Source == SourceHarness && e.Kind == KindDrain {
			drainAt = e.TMS
			break
		}
	}
	for _, e := range tl.Events {
		if e.Client != id {
			continue
		}
		if e.TMS > drainAt && (e.Kind == KindSent || e.Kind == "send") {
			continue // produced after the workload stopped: not counted
		}
		switch {
		case e.Source == SourceClient && e.Kind == KindSent:
			sentUp[e.Seq] = true
		case e.Source == SourceServer && e.Kind == "recv":
			recvUp[e.Seq]++
			upOrder = append(upOrder, e.Seq)
		case e.Source == SourceServer && e.Kind == "send":
			sentDown[e.Seq] = true
		case e.Source == SourceClient && e.Kind == KindReceived:
			recvDown[e.Seq]++
			downOrder = append(downOrder, e.Seq)
		case e.Source == SourceClient && e.Kind == string(client.EventGap):
			down.Gap += int(e.Seq)
		}
	}
	up = flow(sentUp, recvUp, upOrder)
	down2 := flow(sentDown, recvDown, downOrder)
	down2.Gap = down.Gap
	// Holes in the delivered sequence that no gap event accounts for are
	// lost too, even if the server never wrote them to a connection.
	if len(downOrder) > 0 {
		unsent := 0
		for q := slices.Min(downOrder); q <= slices.Max(downOrder); q++ {
			if recvDown[q] == 0 {
				holes++
				if !sentDown[q] {
					unsent++
				}
			}
		}
		down2.Lost += max(unsent-down2.Gap, 0)
	}
	return up, down2, holes
}

func flow(sent map[uint64]bool, recv map[uint64]int, order []uint64) Flow {
	f := Flow{Sent: len(sent)}
	for _, n := range recv {
		f.Delivered++
		if n > 1 {
			f.Duplicated += n - 1
		}
	}
	var missing []uint64
	for s := range sent {
		if recv[s] == 0 {
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

// NoLoss requires zero lost, duplicated and reordered messages in both
// directions for every client, with messages flowing in both.
func NoLoss(why string) Check {
	t := reports.Target{Name: "continuity", Want: "lost 0, duplicated 0, reordered 0, both ways", Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return notApplicable(t.Name, t.Want, needsCooperation(out))
		}
		c := reports.Check{Name: t.Name, Want: t.Want, OK: true}
		var tot [2]Flow
		var bad []string
		for _, id := range tl.Clients {
			up, down := tl.Flows(id)
			for i, f := range []Flow{up, down} {
				dir := []string{DirUp, DirDown}[i]
				tot[i].Sent += f.Sent
				tot[i].Delivered += f.Delivered
				tot[i].Lost += f.Lost
				tot[i].Duplicated += f.Duplicated
				tot[i].Reordered += f.Reordered
				if f.Lost+f.Duplicated+f.Reordered > 0 {
					bad = append(bad, fmt.Sprintf("%s %s: lost %d %v, duplicated %d, reordered %d",
						id, dir, f.Lost, f.Missing, f.Duplicated, f.Reordered))
				}
				if f.Delivered == 0 {
					bad = append(bad, fmt.Sprintf("%s %s: no message delivered at all", id, dir))
				}
			}
		}
		c.Got = fmt.Sprintf("up: %d sent, %d lost, %d dup, %d reordered; down: %d delivered, %d lost, %d dup, %d reordered",
			tot[0].Sent, tot[0].Lost, tot[0].Duplicated, tot[0].Reordered,
			tot[1].Delivered, tot[1].Lost, tot[1].Duplicated, tot[1].Reordered)
		if len(bad) > 0 {
			c.OK = false
			c.Margin = abbrev(bad)
		}
		return c
	}}
}

// GapReported is for scenarios that lose server messages on purpose: every
// client must have been told exactly how many it lost, and nothing else may
// be lost, duplicated or reordered.
func GapReported(why string) Check {
	t := reports.Target{Name: "gap-reported", Want: "reported gap = missing messages > 0", Why: why}
	return Check{Target: t, Eval: func(tl *Timeline) reports.Check {
		if out := tl.outsideClients(); len(out) > 0 {
			return notApplicable(t.Name, t.Want, needsCooperation(out))
		}
		c := reports.Check{Name: t.Name, Want: t.Want, OK: true}
		var got, bad []string
		for _, id := range tl.Clients {
			up, down, holes := tl.flows(id)
			got = append(got, fmt.Sprintf("%s: gap %d, missing %d", id, down.Gap, holes))
			switch {
			case holes == 0:
				bad = append(bad, id+": nothing went missing, so the scenario proved nothing")
			case down.Gap != holes:
				bad = append(bad, fmt.Sprintf("%s: told %d lost, %d missing", id, down.Gap, holes))
			}
			if up.Lost+up.Duplicated+up.Reordered+down.Duplicated+down.Reordered > 0 {
				bad = append(bad, fmt.Sprintf("%s: up lost %d dup %d reordered %d; down dup %d reordered %d",
					id, up.Lost, up.Duplicated, up.Reordered, down.Duplicated, down.Reordered))
			}
		}
		c.Got = abbrev(got)
		if len(bad) > 0 {
			c.OK = false
			c.Margin = abbrev(bad)
		}
		return c
	}}
}

// needsCooperation says why message continuity cannot be judged for outside
// clients.
func needsCooperation(ids []string) string {
	return fmt.Sprintf("%s: outside client; message continuity needs the client to report what it sent and received, which only the reference client does", abbrev(ids))
}
