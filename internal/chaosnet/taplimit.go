package chaosnet

import (
	"container/list"
	"fmt"
	"os"

	"github.com/wschaos/wschaos/internal/fdlimit"
)

// tapFDsPerConn is what one relayed connection costs in descriptors in a
// process that runs the whole chain, as `wschaos serve` does: two in the
// tap (client and upstream), two in an embedded Toxiproxy, one in the fake
// server.
const tapFDsPerConn = 5

// Limits used where the process has no descriptor limit to derive them
// from (not a Unix system).
const (
	fallbackMaxConns        = 1000
	fallbackMaxConnsPerAddr = 750
)

// TapLimits returns the tap's default limits, derived from the process's
// soft RLIMIT_NOFILE (n): a headroom of max(256, n/10) descriptors is left
// for everything else, and each connection is counted at 5 descriptors (tap
// 2, embedded Toxiproxy 2, fake server 1), so total = (n - headroom) / 5.
// A client address may hold three quarters of that, so that one address
// flooding the tap leaves a quarter to the others. With the 20,000
// descriptors a process has here that is 3,600 connections, 2,700 from one
// address. Without a descriptor limit (not Unix) it is 1,000 and 750.
func TapLimits() (total, perAddr int) {
	n, ok := fdlimit.Soft()
	if !ok {
		return fallbackMaxConns, fallbackMaxConnsPerAddr
	}
	headroom := max(256, n/10)
	total = max(1, (n-headroom)/tapFDsPerConn)
	return total, max(1, total*3/4)
}

// connTable is the tap's register of held connections, for its limits.
// Guarded by Tap.mu.
//
// Connections are kept in three lists, globally and per client address, by
// how far they got: silent (the client has sent nothing), unanswered (the
// client spoke, the upstream has sent nothing yet: for a WebSocket client,
// no upgrade response) and answered, the first two in accept order. When a
// newcomer would break a limit, the table evicts from the scope whose limit
// is reached (the address's, else the whole tap's): the oldest silent
// connection if there is one, else the oldest unanswered one, else the
// answered one idle longest. The newcomer is always admitted.
//
// Why: a flood of connections must not lock out a normal client. A
// WebSocket client sends its upgrade request at once and is answered a
// round trip later, then talks; a flood that holds connections open without
// sending evicts its own members, one that sends garbage competes only with
// clients whose upgrade is still in flight, and one that upgrades and idles
// is evicted before a client that talks.
type connTable struct {
	maxTotal, maxPerAddr int
	all                  connLists
	byAddr               map[string]*connLists
}

// Connection states in the table, in eviction order.
const (
	connSilent = iota
	connUnanswered
	connAnswered
	connStates
)

// evictedWhy says, by state, which connection an eviction chose.
var evictedWhy = [connStates]string{
	"evicted the oldest connection that had sent nothing",
	"evicted the oldest connection the server never answered",
	"evicted the connection idle longest",
}

// connLists holds one scope's connections by state.
type connLists struct {
	lists [connStates]list.List
	n     int
}

// tableEntry is a relay's place in the table.
type tableEntry struct {
	state int
	elems [2]*list.Element // in the global list and in its address's; nil when out
}

func newConnTable(maxTotal, maxPerAddr int) *connTable {
	return &connTable{maxTotal: maxTotal, maxPerAddr: maxPerAddr, byAddr: make(map[string]*connLists)}
}

// add admits r and returns the connection it evicted to make room, if any,
// and why.
func (ct *connTable) add(r *relay) (victim *relay, reason string) {
	switch scope := ct.byAddr[r.addr]; {
	case scope != nil && scope.n >= ct.maxPerAddr:
		victim, reason = ct.pick(scope), fmt.Sprintf("over the tap's limit of %d connections from %s", ct.maxPerAddr, r.addr)
	case ct.all.n >= ct.maxTotal:
		victim, reason = ct.pick(&ct.all), fmt.Sprintf("over the tap's limit of %d connections", ct.maxTotal)
	}
	if victim != nil {
		reason += ": " + evictedWhy[victim.entry.state]
		ct.remove(victim) // which may drop r's address from byAddr
	}
	scope := ct.byAddr[r.addr]
	if scope == nil {
		scope = &connLists{}
		ct.byAddr[r.addr] = scope
	}
	r.entry = tableEntry{state: connSilent}
	r.entry.elems[0] = ct.all.lists[connSilent].PushBack(r)
	r.entry.elems[1] = scope.lists[connSilent].PushBack(r)
	ct.all.n++
	scope.n++
	return victim, reason
}

// promote moves r on to state, if that is further than it got.
func (ct *connTable) promote(r *relay, state int) {
	if r.entry.elems[0] == nil || r.entry.state >= state {
		return
	}
	scope := ct.byAddr[r.addr]
	ct.all.lists[r.entry.state].Remove(r.entry.elems[0])
	scope.lists[r.entry.state].Remove(r.entry.elems[1])
	r.entry.state = state
	r.entry.elems[0] = ct.all.lists[state].PushBack(r)
	r.entry.elems[1] = scope.lists[state].PushBack(r)
}

// remove takes r out of the table; it does nothing if r is not in it.
func (ct *connTable) remove(r *relay) {
	if r.entry.elems[0] == nil {
		return
	}
	scope := ct.byAddr[r.addr]
	ct.all.lists[r.entry.state].Remove(r.entry.elems[0])
	scope.lists[r.entry.state].Remove(r.entry.elems[1])
	r.entry.elems = [2]*list.Element{}
	ct.all.n--
	scope.n--
	if scope.n == 0 {
		delete(ct.byAddr, r.addr)
	}
}

// maxPeeks bounds how many silent connections one eviction checks for
// input waiting unread (see pick).
const maxPeeks = 64

// pick returns the connection to evict from cl: the oldest silent one,
// else the oldest unanswered one, else the answered one idle longest (a
// scan: answered connections are evicted only when no other is left, which
// a flood of silent connections never reaches). nil if cl is empty.
//
// A connection counts as silent until the tap reads from it, which it does
// once its upstream dial is done; a client whose request already waits in
// the socket is moved on to unanswered here instead of evicted.
func (ct *connTable) pick(cl *connLists) *relay {
	var spoke []*relay
	defer func() {
		for _, r := range spoke {
			ct.promote(r, connUnanswered)
		}
	}()
	for e := cl.lists[connSilent].Front(); e != nil; e = e.Next() {
		r := e.Value.(*relay)
		if len(spoke) == maxPeeks || !pendingInput(r.conns[clientSide]) {
			return r
		}
		spoke = append(spoke, r)
	}
	if e := cl.lists[connUnanswered].Front(); e != nil {
		return e.Value.(*relay)
	}
	if len(spoke) > 0 {
		return spoke[0] // unanswered, not yet in the list
	}
	var idlest *relay
	for e := cl.lists[connAnswered].Front(); e != nil; e = e.Next() {
		r := e.Value.(*relay)
		if idlest == nil || r.lastActive.Load() < idlest.lastActive.Load() {
			idlest = r
		}
	}
	return idlest
}

// reserveFDs is how many descriptors the tap keeps in reserve for shedding
// connections when the process has run out.
const reserveFDs = 2

// fdReserve holds a few descriptors open (on the null device) so that the
// accept loop can take a connection off the queue and answer it even when
// the process has run out: accept fails with EMFILE without dequeuing, so
// without the reserve the queue would stay full and every client time out.
// Only the accept loop uses it.
type fdReserve struct {
	files []*os.File
}

// acquire opens reserve descriptors up to reserveFDs and reports whether the
// reserve is full.
func (fr *fdReserve) acquire() bool {
	for len(fr.files) < reserveFDs {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return false
		}
		fr.files = append(fr.files, f)
	}
	return true
}

// release closes the reserve and reports whether it held anything.
func (fr *fdReserve) release() bool {
	had := len(fr.files) > 0
	for _, f := range fr.files {
		f.Close()
	}
	fr.files = fr.files[:0]
	return had
}
