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
	lastC2S  uint64 // last client sequence delivered
	conn     *conn  // attached live connection, or nil

	forgotten bool // ForgetSessions ran: not resumable, gone when detached
	expiry    *time.Timer
	expiryGen uint64
}

// tombstone remembers an expired session, so a client that names it learns
// how many messages it lost.
type tombstone struct {
	clientID string
	lastSeq  uint64
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
				// Continue the numbering so the client can tell what it lost.
				ss.firstSeq = tb.lastSeq + 1
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
	s.tombstones[ss.id] = tombstone{clientID: ss.clientID, lastSeq: ss.lastSeq}
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
