package fakeserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/wschaos/wschaos/protocol"
	"github.com/wschaos/wschaos/result"
)

// maxTombstones bounds how many expired sessions are remembered for gap
// reporting.
const maxTombstones = 10000

// session is the resume state of one client: its server-to-client sequence,
// the range of messages still held for replay, and the last client-to-server
// sequence delivered. Guarded by Server.mu.
//
// Every server-to-client message is a push whose body is derived from its
// sequence ("s<seq>"), so the ring of the last ResumeMessages messages is
// kept as a range of sequences rather than a buffer of bodies.
type session struct {
	id       string
	clientID string
	firstSeq uint64 // first server sequence of this session
	lastSeq  uint64 // last server sequence assigned; firstSeq-1 before the first
	// lastC2S is the last client sequence of the contiguous run delivered
	// from 1 (what the cumulative ack says); above holds those delivered
	// beyond it, out of order, and maxC2S the highest delivered.
	lastC2S uint64
	above   map[uint64]bool
	maxC2S  uint64
	conn    *conn // attached live connection, or nil

	forgotten bool // ForgetSessions ran: not resumable, gone when detached
	expiry    *time.Timer
	expiryGen uint64
}

// tombstone remembers an expired session: a client that names it learns
// how many messages it lost, and the new session goes on deduplicating the
// client's messages where the old one stopped, so a message whose ack was
// lost with the old session is not delivered twice.
type tombstone struct {
	clientID string
	lastSeq  uint64
	lastC2S  uint64
	above    map[uint64]bool
	maxC2S   uint64
}

// maxAbove bounds how many out-of-order client messages a session
// remembers beyond its contiguous run; past it the oldest hole is given up
// as lost, so a client that skips sequence numbers cannot grow the server.
const maxAbove = 4096

// arrival says how a client message relates to what the session has.
type arrival int

const (
	arrivedNext  arrival = iota // the next in sequence
	arrivedAhead                // beyond a hole: delivered, the hole stays open
	arrivedLate                 // fills a hole behind the highest delivered: reordered
	arrivedTwice                // delivered before: a duplicate, dropped
)

// receive records client message seq and says how it arrived. Called
// with s.mu held.
func (ss *session) receive(seq uint64) arrival {
	if seq <= ss.lastC2S || ss.above[seq] {
		return arrivedTwice
	}
	how := arrivedNext
	switch {
	case seq < ss.maxC2S:
		how = arrivedLate
	case seq > ss.lastC2S+1:
		how = arrivedAhead
	}
	if ss.above == nil {
		ss.above = map[uint64]bool{}
	}
	ss.above[seq] = true
	ss.maxC2S = max(ss.maxC2S, seq)
	for ss.above[ss.lastC2S+1] {
		delete(ss.above, ss.lastC2S+1)
		ss.lastC2S++
	}
	if len(ss.above) > maxAbove {
		// Give up the oldest hole: everything below the lowest held is
		// taken as delivered or lost for good.
		low := ss.maxC2S
		for q := range ss.above {
			low = min(low, q)
		}
		ss.lastC2S = low - 1
		for ss.above[ss.lastC2S+1] {
			delete(ss.above, ss.lastC2S+1)
			ss.lastC2S++
		}
	}
	return how
}

// oldest returns the oldest server sequence still held for replay; it is
// lastSeq+1 when none is.
func (ss *session) oldest(keep int) uint64 {
	o := ss.firstSeq
	if k := uint64(keep); ss.lastSeq >= k && ss.lastSeq-k+1 > o {
		o = ss.lastSeq - k + 1
	}
	return o
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "s-" + hex.EncodeToString(b[:])
}

// welcomeResult is what hello decided, for the caller to act on outside the
// lock.
type welcomeResult struct {
	welcome  protocol.Envelope
	replaced *conn
	// stale: the hello came on a connection older than the one the client
	// already holds, and took nothing over.
	stale   bool
	newSess bool
	detail  string
}

// hello attaches c to a resumed or new session and returns the welcome.
// The welcome is queued on c before the session can wake c's writer, so it
// always precedes replayed and pushed messages. Called without s.mu.
func (s *Server) hello(c *conn, h protocol.Envelope) (welcomeResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res welcomeResult
	if s.closed {
		return res, false
	}
	if old := s.byClient[h.ClientID]; old != nil && old != c && old.id > c.id {
		// A hello late on a connection accepted before the one the client
		// already holds: a handshake the client gave up on while the
		// server was too busy to read it. The newer connection stays; a
		// stale hello must not end the client's live connection.
		res.stale = true
		return res, true
	}
	if old := s.byClient[h.ClientID]; old != nil && old != c {
		res.replaced = old
		s.detach(old)
	}
	s.byClient[h.ClientID] = c
	c.clientID = h.ClientID

	w := protocol.Envelope{Type: protocol.TypeWelcome, ClientID: h.ClientID}
	ss := s.sessions[h.Session]
	if h.Session != "" && ss != nil && !ss.forgotten && ss.clientID == h.ClientID {
		if ss.conn != nil && ss.conn != c {
			// Another live connection of this client holds it; the newer wins.
			prev := ss.conn
			s.detach(prev)
			if res.replaced == nil {
				res.replaced = prev
			}
		}
		s.cancelExpiry(ss)
		want := h.LastSeq + 1
		if want > ss.lastSeq+1 {
			want = ss.lastSeq + 1 // the client claims more than was sent
		}
		from := max(want, ss.oldest(s.opts.ResumeMessages))
		w.Resumed = true
		w.Ack = ss.lastC2S
		w.FromSeq = from
		w.Gap = from - want
		res.detail = fmt.Sprintf("resumed from_seq=%d gap=%d", from, w.Gap)
	} else {
		ss = &session{id: newSessionID(), clientID: h.ClientID, firstSeq: 1}
		res.detail = "new"
		if h.Session != "" {
			res.detail = "new: session " + truncate(h.Session) + " unknown"
			if tb, ok := s.tombstones[h.Session]; ok && tb.clientID == h.ClientID {
				// Continue the numbering so the client can tell what it lost,
				// and the deduplication so that what it resends is not
				// delivered twice; the ack settles its outbox.
				ss.firstSeq = tb.lastSeq + 1
				ss.lastC2S, ss.above, ss.maxC2S = tb.lastC2S, tb.above, tb.maxC2S
				w.Ack = tb.lastC2S
				if h.LastSeq < tb.lastSeq {
					w.Gap = tb.lastSeq - h.LastSeq
				}
				delete(s.tombstones, h.Session)
				res.detail = fmt.Sprintf("new: session %s expired, gap=%d", truncate(h.Session), w.Gap)
			}
		}
		ss.lastSeq = ss.firstSeq - 1
		s.sessions[ss.id] = ss
		w.FromSeq = ss.firstSeq
		res.newSess = true
	}
	w.Session = ss.id
	ss.conn = c
	c.sess = ss
	c.cursor = w.FromSeq
	if w.Resumed && s.opts.ReplayOverlap > 0 {
		// At-least-once: go back over messages the client already has.
		back := uint64(s.opts.ReplayOverlap)
		oldest := max(ss.oldest(s.opts.ResumeMessages), ss.firstSeq)
		if c.cursor > oldest+back {
			c.cursor -= back
		} else {
			c.cursor = oldest
		}
	}
	c.pending = append(c.pending, outMsg{env: w, kind: result.KindWelcome, text: res.detail, resumed: w.Resumed, gap: w.Gap})
	c.poke()
	res.welcome = w
	return res, true
}

// detach unlinks c from its session and starts the session's resume
// window. Called with s.mu held.
func (s *Server) detach(c *conn) {
	ss := c.sess
	c.sess = nil
	if s.byClient[c.clientID] == c {
		delete(s.byClient, c.clientID)
	}
	if ss == nil || ss.conn != c {
		return
	}
	ss.conn = nil
	if ss.forgotten {
		if s.sessions[ss.id] == ss {
			delete(s.sessions, ss.id)
		}
		return
	}
	if s.closed {
		return
	}
	s.cancelExpiry(ss)
	ss.expiryGen++
	gen := ss.expiryGen
	s.wg.Add(1)
	ss.expiry = time.AfterFunc(s.opts.ResumeWindow, func() {
		defer s.wg.Done()
		s.expire(ss, gen)
	})
}

// cancelExpiry stops a pending expiry. Called with s.mu held.
func (s *Server) cancelExpiry(ss *session) {
	ss.expiryGen++
	if ss.expiry != nil && ss.expiry.Stop() {
		s.wg.Done() // the timer's function will not run
	}
	ss.expiry = nil
}

func (s *Server) expire(ss *session, gen uint64) {
	s.mu.Lock()
	if gen != ss.expiryGen || s.closed || ss.conn != nil || s.sessions[ss.id] != ss {
		s.mu.Unlock()
		return
	}
	ss.expiry = nil
	delete(s.sessions, ss.id)
	if len(s.tombstones) >= maxTombstones {
		for id := range s.tombstones {
			delete(s.tombstones, id) // forget an arbitrary one
			break
		}
	}
	s.tombstones[ss.id] = tombstone{clientID: ss.clientID, lastSeq: ss.lastSeq, lastC2S: ss.lastC2S, above: ss.above, maxC2S: ss.maxC2S}
	last := ss.lastSeq
	s.mu.Unlock()
	s.emit(Event{Kind: result.KindSessionExpired, ClientID: ss.clientID, Session: ss.id, Seq: last})
}

func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
