package harness

import (
	"fmt"
	"math"

	"github.com/wschaos/wschaos/result"
)

// CrossCheck holds the client's own account against the wire tap's, so that
// a client (or a harness bug) cannot report detections and reconnects that
// did not happen on the wire. For each client:
//
//   - every "dialing" is followed by a tap "connect" within tolerance, and
//     every tap connect has such a dial;
//   - every declared loss ("disconnected") of a connection that reached the
//     tap agrees with the tap's view of its end: the client closes its socket
//     after declaring the loss and within CloseGrace, so the tap's
//     "client-close" must come between the loss - tolerance and the loss +
//     CloseGrace + tolerance; when the network ended both sides first (a
//     reset passed on, an upstream refusal: "closed" with no client-close),
//     the loss must come within tolerance of that end.
//
// The tap cannot tell one client's connections from another's, so the check
// is not applicable when several clients run; nor for an outside client,
// whose events are the tap's own.
func CrossCheck(b Bound) Check {
	tol := ms(b.Limit())
	t := result.Target{Name: "cross-check", Limit: tol, Unit: result.UnitMS, Bound: ms(b.D), Allowance: ms(b.Allowance), Why: b.Why(),
		Want: fmt.Sprintf("client and tap agree within %s (socket closed within CloseGrace of the loss)", fmtMS(tol))}
	return Check{Target: t, Eval: func(tl *Timeline) result.Check {
		switch {
		case len(tl.Clients) != 1:
			return NotApplicable(t, fmt.Sprintf("%d clients: the tap cannot tell whose connection is whose", len(tl.Clients)))
		case tl.Outside(tl.Clients[0]):
			return NotApplicable(t, tl.Clients[0]+": outside client; its events are the tap's own")
		}
		got, dials, bad := crossCheck(tl, tl.Clients[0], tol, ms(tl.Options.CloseGrace))
		if dials == 0 {
			return NotApplicable(t, "the client made no dial")
		}
		return Verdict(t, len(bad) == 0, got, nil, abbrev(bad))
	}}
}

// tapConn is one tap connection as the tap saw it.
type tapConn struct {
	connectAt, clientCloseAt, closedAt float64 // NaN when not seen
	paired                             bool
}

func crossCheck(tl *Timeline, id string, tol, grace float64) (got string, dials int, bad []string) {
	var order []uint64
	conns := map[uint64]*tapConn{}
	for _, e := range tl.Events {
		if e.Source != result.SourceTap {
			continue
		}
		tc := conns[e.Conn]
		if tc == nil {
			tc = &tapConn{connectAt: math.NaN(), clientCloseAt: math.NaN(), closedAt: math.NaN()}
			conns[e.Conn] = tc
			order = append(order, e.Conn)
		}
		switch e.Kind {
		case result.KindTapConnect:
			tc.connectAt = e.TMS
		case result.KindTapClientClose:
			tc.clientCloseAt = e.TMS
		case result.KindTapClosed:
			if !e.Teardown() {
				tc.closedAt = e.TMS
			}
		}
	}

	// Pair each dial with the first unpaired tap connect after it.
	byClientConn := map[uint64]*tapConn{}
	losses := 0
	var worstDial, worstLoss float64
	for _, e := range tl.ClientEvents(id) {
		if e.Kind != result.KindDialing {
			continue
		}
		dials++
		var match *tapConn
		for _, n := range order {
			tc := conns[n]
			if !tc.paired && tc.connectAt >= e.TMS-tol {
				match = tc
				break
			}
		}
		if match == nil || match.connectAt-e.TMS > tol {
			bad = append(bad, fmt.Sprintf("dial at %s (conn %d): no tap connect within %s", fmtMS(e.TMS), e.Conn, fmtMS(tol)))
			continue
		}
		match.paired = true
		byClientConn[e.Conn] = match
		worstDial = math.Max(worstDial, math.Abs(match.connectAt-e.TMS))
	}
	for _, n := range order {
		if tc := conns[n]; !tc.paired && !math.IsNaN(tc.connectAt) {
			bad = append(bad, fmt.Sprintf("tap connect %d at %s: the client reported no dial", n, fmtMS(tc.connectAt)))
		}
	}

	for _, e := range tl.ClientEvents(id) {
		if e.Kind != result.KindDisconnected {
			continue
		}
		tc := byClientConn[e.Conn]
		if tc == nil {
			continue // its dial was reported above
		}
		losses++
		switch {
		case !math.IsNaN(tc.clientCloseAt):
			d := tc.clientCloseAt - e.TMS
			worstLoss = math.Max(worstLoss, math.Max(-d, d-grace))
			if d < -tol || d > grace+tol {
				bad = append(bad, fmt.Sprintf("loss at %s (conn %d): the tap saw the socket closed %s later, want 0..%s",
					fmtMS(e.TMS), e.Conn, fmtMS(d), fmtMS(grace)))
			}
		case !math.IsNaN(tc.closedAt):
			d := e.TMS - tc.closedAt
			worstLoss = math.Max(worstLoss, math.Abs(d))
			if math.Abs(d) > tol {
				bad = append(bad, fmt.Sprintf("loss at %s (conn %d): the network ended it at %s, %s apart",
					fmtMS(e.TMS), e.Conn, fmtMS(tc.closedAt), fmtMS(math.Abs(d))))
			}
		default:
			bad = append(bad, fmt.Sprintf("loss at %s (conn %d): the tap saw the connection still open", fmtMS(e.TMS), e.Conn))
		}
	}
	got = fmt.Sprintf("%d dials, %d losses; off by at most %s (dial) and %s (loss)", dials, losses, fmtMS(worstDial), fmtMS(worstLoss))
	return got, dials, bad
}
