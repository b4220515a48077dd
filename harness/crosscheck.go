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
// Behind a packet link the tap sees a connection only once its handshake
// has crossed the link, and its close only once the FIN has, after every
// byte before it: a lossy link delays both by retransmission timeouts, or
// for good while a black hole lasts. There the check holds the order, not
// the timing: a tap connect comes after its dial and before the upgrade
// completed, a dial that never connected may have none, the tap sees a
// close no earlier than the loss the client declared, and a network end
// no later than the client's loss; a close still crossing the link when
// the run ends is counted, not failed.
//
// The tap cannot tell one client's connections from another's, so the check
// is not applicable when several clients run; nor for an outside client,
// whose events are the tap's own.
func CrossCheck(b Bound) Check {
	tol := ms(b.Limit())
	t := result.Target{Name: "cross-check", Limit: tol, Unit: result.UnitMS, Bound: ms(b.D), Allowance: ms(b.Allowance), Why: b.Why(),
		Want: fmt.Sprintf("client and tap agree within %s (socket closed within CloseGrace of the loss)", fmtMS(tol))}
	return Check{Target: t, Eval: func(tl *Timeline) result.Check {
		t := t
		switch {
		case len(tl.Clients) != 1:
			return NotApplicable(t, fmt.Sprintf("%d clients: the tap cannot tell whose connection is whose", len(tl.Clients)))
		case tl.Outside(tl.Clients[0]):
			return NotApplicable(t, tl.Clients[0]+": outside client; its events are the tap's own")
		}
		x := newCrossing(tl, tol)
		if x.linked {
			t.Want = fmt.Sprintf("client and tap in the same order across the packet link (tolerance %s)", fmtMS(tol))
		}
		x.pairDials(tl.ClientEvents(tl.Clients[0]))
		x.holdLosses(tl.ClientEvents(tl.Clients[0]))
		if x.dials == 0 {
			return NotApplicable(t, "the client made no dial")
		}
		return Verdict(t, len(x.bad) == 0, x.got(), nil, abbrev(x.bad))
	}}
}

// tapConn is one tap connection as the tap saw it.
type tapConn struct {
	connectAt, clientCloseAt, closedAt float64 // NaN when not seen
	paired                             bool
}

// crossing is one cross-check in progress: the tap's connections, which
// dial each belongs to, and the disagreements found.
type crossing struct {
	tol, grace float64
	linked     bool
	order      []uint64
	conns      map[uint64]*tapConn
	byConn     map[uint64]*tapConn // client connection number -> tap connection
	endOf      map[uint64]float64  // client connection number -> its end (or upgrade), linked only

	dials, losses, unconnected, open int
	worstDial, worstLoss             float64
	bad                              []string
}

func newCrossing(tl *Timeline, tol float64) *crossing {
	x := &crossing{tol: tol, grace: ms(tl.Options.CloseGrace), linked: tl.tapBehindLink(tl.Clients[0]),
		conns: map[uint64]*tapConn{}, byConn: map[uint64]*tapConn{}, endOf: map[uint64]float64{}}
	for _, e := range tl.Events {
		if e.Source != result.SourceTap {
			continue
		}
		tc := x.conns[e.Conn]
		if tc == nil {
			tc = &tapConn{connectAt: math.NaN(), clientCloseAt: math.NaN(), closedAt: math.NaN()}
			x.conns[e.Conn] = tc
			x.order = append(x.order, e.Conn)
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
	return x
}

// pairDials pairs each dial with the first unpaired tap connect after it:
// within tolerance, or behind a link before the attempt's upgrade or end.
func (x *crossing) pairDials(evs []result.Event) {
	connected := map[uint64]bool{}
	for _, e := range evs {
		switch e.Kind {
		case result.KindConnected:
			connected[e.Conn] = true
			x.endOf[e.Conn] = e.TMS
		case result.KindDisconnected:
			if _, ok := x.endOf[e.Conn]; !ok {
				x.endOf[e.Conn] = e.TMS
			}
		}
	}
	for _, e := range evs {
		if e.Kind != result.KindDialing {
			continue
		}
		x.dials++
		latest := e.TMS + x.tol
		if end, ok := x.endOf[e.Conn]; ok && x.linked {
			latest = end + x.tol
		} else if x.linked {
			latest = math.Inf(1)
		}
		var match *tapConn
		for _, n := range x.order {
			if tc := x.conns[n]; !tc.paired && tc.connectAt >= e.TMS-x.tol {
				match = tc
				break
			}
		}
		switch {
		case match != nil && match.connectAt <= latest:
			match.paired = true
			x.byConn[e.Conn] = match
			x.worstDial = math.Max(x.worstDial, math.Abs(match.connectAt-e.TMS))
		case x.linked && !connected[e.Conn]:
			x.unconnected++ // its handshake never crossed the link
		case x.linked:
			x.bad = append(x.bad, fmt.Sprintf("dial at %s (conn %d): upgraded, yet no tap connect before it", fmtMS(e.TMS), e.Conn))
		default:
			x.bad = append(x.bad, fmt.Sprintf("dial at %s (conn %d): no tap connect within %s", fmtMS(e.TMS), e.Conn, fmtMS(x.tol)))
		}
	}
	for _, n := range x.order {
		if tc := x.conns[n]; !tc.paired && !math.IsNaN(tc.connectAt) {
			x.bad = append(x.bad, fmt.Sprintf("tap connect %d at %s: the client reported no dial", n, fmtMS(tc.connectAt)))
		}
	}
}

// holdLosses holds every declared loss of a connection that reached the
// tap against the tap's view of its end.
func (x *crossing) holdLosses(evs []result.Event) {
	for _, e := range evs {
		if e.Kind != result.KindDisconnected {
			continue
		}
		tc := x.byConn[e.Conn]
		if tc == nil {
			continue // its dial was judged above
		}
		x.losses++
		switch {
		case !math.IsNaN(tc.clientCloseAt):
			d := tc.clientCloseAt - e.TMS
			if x.linked {
				x.worstLoss = math.Max(x.worstLoss, -d)
				if d < -x.tol {
					x.bad = append(x.bad, fmt.Sprintf("loss at %s (conn %d): the tap saw the socket closed %s before it", fmtMS(e.TMS), e.Conn, fmtMS(-d)))
				}
				continue
			}
			x.worstLoss = math.Max(x.worstLoss, math.Max(-d, d-x.grace))
			if d < -x.tol || d > x.grace+x.tol {
				x.bad = append(x.bad, fmt.Sprintf("loss at %s (conn %d): the tap saw the socket closed %s later, want 0..%s",
					fmtMS(e.TMS), e.Conn, fmtMS(d), fmtMS(x.grace)))
			}
		case !math.IsNaN(tc.closedAt):
			d := e.TMS - tc.closedAt
			if x.linked {
				x.worstLoss = math.Max(x.worstLoss, -d)
				if d < -x.tol {
					x.bad = append(x.bad, fmt.Sprintf("loss at %s (conn %d): declared %s before the network ended it", fmtMS(e.TMS), e.Conn, fmtMS(-d)))
				}
				continue
			}
			x.worstLoss = math.Max(x.worstLoss, math.Abs(d))
			if math.Abs(d) > x.tol {
				x.bad = append(x.bad, fmt.Sprintf("loss at %s (conn %d): the network ended it at %s, %s apart",
					fmtMS(e.TMS), e.Conn, fmtMS(tc.closedAt), fmtMS(math.Abs(d))))
			}
		case x.linked:
			x.open++
		default:
			x.bad = append(x.bad, fmt.Sprintf("loss at %s (conn %d): the tap saw the connection still open", fmtMS(e.TMS), e.Conn))
		}
	}
}

func (x *crossing) got() string {
	s := fmt.Sprintf("%d dials, %d losses; off by at most %s (dial) and %s (loss)", x.dials, x.losses, fmtMS(x.worstDial), fmtMS(x.worstLoss))
	if x.linked {
		s = fmt.Sprintf("%d dials, %d losses, in order across the packet link (%d dials never crossed it, %d closes still crossing at the end)",
			x.dials, x.losses, x.unconnected, x.open)
	}
	return s
}
