package fakeserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/internal/shed"
	"github.com/wschaos/wschaos/protocol"
	"github.com/wschaos/wschaos/result"
)

// maxPending bounds the control messages (welcome, echo replies, raw echoes)
// queued on one connection; beyond it the reader stops reading, so a client
// that floods without reading gets TCP backpressure, not server memory.
const maxPending = 256

// flushWait bounds how long a close waits for the writer to send what is
// queued before it: a peer that does not read must not hold the close up.
const flushWait = time.Second

// conn is one upgraded WebSocket connection. Its handler goroutine runs the
// writer loop; a reader goroutine reads. Both exit when the connection ends
// (peer close, drop, Stop or Close).
type conn struct {
	s      *Server
	id     uint64
	remote string
	tcp    *trackedConn
	wire   net.Conn // what bytes are written to: TLS or the TCP connection
	ws     *websocket.Conn

	wake       chan struct{} // something to write
	drained    chan struct{} // the writer took from pending
	dropMid    chan struct{} // DropMidFrame asked
	readDone   chan struct{} // reader ended; readErr is set
	writerGone chan struct{} // writer stopped writing
	finished   chan struct{} // teardown done
	readErr    error
	gone       sync.Once
	closerDone chan struct{}         // closed when closeWith's handshake ends
	closeSeen  *websocket.CloseError // the peer's close frame as the handshake saw it
	// flushed is closed by the writer once, after closeWith began, it has
	// written the pending control messages and the last ack: the close
	// frame follows everything the server acknowledged.
	flushed     chan struct{}
	flushedOnce sync.Once

	// pathID is the client id the URL path named (/ws/<id>), "" for /ws:
	// every event of the connection names it, whatever a hello says (the
	// hello event itself names the id the hello gave).
	pathID string

	// Guarded by s.mu.
	clientID string
	// plain: the connection said no hello within Options.PlainAfter; it
	// gets raw pushes "p<seq>" (pushSeq is the last one written, pushDue
	// says one is owed).
	plain      bool
	pushDue    bool
	pushSeq    uint64
	sess       *session
	cursor     uint64 // next server sequence to send
	pending    []outMsg
	ackPending bool
	closing    bool
	sentCode   websocket.StatusCode
	dropped    bool
	ended      bool // torn down
}

// outMsg is a queued control message and the event its write produces.
type outMsg struct {
	env  protocol.Envelope
	raw  []byte      // non-nil: a raw echo or push, written as is
	kind result.Kind // event after the write, "" for none
	seq  uint64      // the raw push's sequence number, for its event
	text string
	// resumed and gap describe a welcome for its event.
	resumed bool
	gap     uint64
}

// serveHTTP answers /ws: it refuses, stalls or upgrades and then serves the
// connection until it ends.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	wire, tc := connFrom(r)
	if tc == nil {
		http.Error(w, "fakeserver: unknown connection", http.StatusInternalServerError)
		return
	}
	pathID, ok := clientPath(r.URL.Path)
	ev := Event{Conn: tc.id, Remote: r.RemoteAddr, ClientID: pathID}
	if !ok {
		http.NotFound(w, r)
		ev.Kind, ev.Status, ev.Text = result.KindReject, http.StatusNotFound, "path "+truncate(r.URL.Path)
		s.emit(ev)
		return
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "fakeserver: closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	stall, status, retry, l := s.stall, s.rejectStatus, s.rejectRetry, s.lis
	s.mu.Unlock()
	var stopped <-chan struct{}
	if l != nil {
		stopped = l.stopped
	}

	if stall != nil {
		s.holdStalled(ev, tc, r, stall, stopped)
		return
	}
	if status != 0 {
		s.refuse(w, ev, status, retry)
		return
	}

	s.mu.Lock()
	if limit := s.maxConns; limit > 0 && len(s.conns)+s.upgrading >= limit {
		s.mu.Unlock()
		ra := shed.RetryAfter(s.opts.LimitRetryAfter)
		w.Header().Set("Retry-After", ra)
		http.Error(w, "fakeserver: connection limit reached", http.StatusServiceUnavailable)
		ev.Kind, ev.Status, ev.Text = result.KindReject, http.StatusServiceUnavailable, "connection limit; Retry-After: "+ra
		s.emit(ev)
		return
	}
	s.upgrading++
	s.mu.Unlock()

	c := &conn{
		s: s, id: tc.id, remote: r.RemoteAddr, tcp: tc, wire: wire, pathID: pathID,
		wake:       make(chan struct{}, 1),
		drained:    make(chan struct{}, 1),
		dropMid:    make(chan struct{}, 1),
		readDone:   make(chan struct{}),
		flushed:    make(chan struct{}),
		writerGone: make(chan struct{}),
		finished:   make(chan struct{}),
		closerDone: make(chan struct{}),
	}
	sw := &statusWriter{ResponseWriter: w}
	ws, err := websocket.Accept(sw, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // any Origin: the clients under test are not browsers
		OnPingReceived:     c.onPing,
	})

	s.mu.Lock()
	s.upgrading--
	live := err == nil && !s.closed
	select {
	case <-stopped:
		live = false
	default:
	}
	if live {
		c.ws = ws
		s.conns[c.id] = c
	}
	s.mu.Unlock()
	if err != nil {
		// Accept has written the HTTP error.
		ev.Kind, ev.Status, ev.Text = result.KindReject, sw.status, err.Error()
		s.emit(ev)
		return
	}
	if !live {
		_ = tc.Close()
		_ = ws.CloseNow()
		return
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	ev.Kind = result.KindAccept
	s.emit(ev)
	c.serve()
}

// refuse answers an upgrade with status (SetReject), and Retry-After when
// retry is set.
func (s *Server) refuse(w http.ResponseWriter, ev Event, status int, retry string) {
	if retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	http.Error(w, http.StatusText(status), status)
	ev.Kind, ev.Status, ev.Text = result.KindReject, status, "Retry-After: "+retry
	s.emit(ev)
}

// holdStalled leaves an upgrade unanswered until the stall is released,
// the listener stops, the server closes or the client goes, then closes
// its connection.
func (s *Server) holdStalled(ev Event, tc *trackedConn, r *http.Request, stall, stopped <-chan struct{}) {
	ev.Kind = result.KindStall
	s.emit(ev)
	select {
	case <-stall:
	case <-stopped:
	case <-s.done:
	case <-r.Context().Done():
	}
	_ = tc.Close()
	ev.Kind, ev.Code, ev.Text = result.KindServerClosed, result.CloseCode(websocket.StatusAbnormalClosure), "stalled upgrade closed"
	s.emit(ev)
}

// serve runs the connection until it ends, then tears it down.
func (c *conn) serve() {
	c.s.wg.Add(1)
	go c.readLoop()
	c.writeLoop()

	_ = c.ws.CloseNow()
	<-c.readDone
	c.s.mu.Lock()
	delete(c.s.conns, c.id)
	client, sess, sent, closing := c.clientID, c.sess, c.sentCode, c.closing
	c.ended = true
	c.s.detach(c)
	c.s.mu.Unlock()
	var seen *websocket.CloseError
	if closing {
		<-c.closerDone // quick: the connection is closed already
		seen = c.closeSeen
	}

	ev := c.event(result.KindServerClosed)
	ev.ClientID = cmp.Or(c.pathID, client)
	if sess != nil {
		ev.Session = sess.id
	}
	var ce websocket.CloseError
	if errors.As(c.readErr, &ce) {
		ev.Code, ev.Reason = result.CloseCode(ce.Code), ce.Reason
	} else if seen != nil {
		// The handshake, not the reader, read the peer's close frame.
		ev.Code, ev.Reason = result.CloseCode(seen.Code), seen.Reason
	} else {
		ev.Code = result.CloseCode(websocket.StatusAbnormalClosure)
		ev.Text = c.readErr.Error()
		if sent != 0 {
			ev.Text = fmt.Sprintf("no close frame back after close-sent %d: %v", sent, c.readErr)
		}
	}
	c.s.emit(ev)
	close(c.finished)
}

func (c *conn) event(kind result.Kind) Event {
	return Event{Kind: kind, Conn: c.id, Remote: c.remote, ClientID: c.pathID}
}

// eventWithClient is event plus the client id (the path's, else the
// hello's) and session, read under s.mu.
func (c *conn) eventWithClient(kind result.Kind) Event {
	ev := c.event(kind)
	c.s.mu.Lock()
	ev.ClientID = cmp.Or(c.pathID, c.clientID)
	if c.sess != nil {
		ev.Session = c.sess.id
	}
	c.s.mu.Unlock()
	return ev
}

func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) onPing(_ context.Context, payload []byte) bool {
	ev := c.event(result.KindPingRecv)
	ev.Text = truncate(string(payload))
	c.s.emit(ev)
	if c.s.mute.Load() {
		ev.Kind = result.KindPongWithheld
		c.s.emit(ev)
		return false
	}
	return true
}

// drop records that the connection is being closed abruptly.
func (c *conn) drop() {
	c.s.mu.Lock()
	already := c.dropped
	c.dropped = true
	c.s.mu.Unlock()
	if !already {
		c.s.emit(c.eventWithClient(result.KindDrop))
	}
}

// closeWith starts a close handshake in its own goroutine and reports
// whether it did (false if one was already under way or the server closed).
func (c *conn) closeWith(code websocket.StatusCode, reason string) bool {
	s := c.s
	s.mu.Lock()
	if c.closing || c.dropped || c.ended || s.closed {
		s.mu.Unlock()
		return false
	}
	c.closing, c.sentCode = true, code
	c.poke()
	s.wg.Add(1)
	s.mu.Unlock()
	ev := c.eventWithClient(result.KindCloseSent)
	ev.Code, ev.Reason = result.CloseCode(code), reason
	s.emit(ev)
	go func() {
		defer s.wg.Done()
		defer close(c.closerDone)
		// The writer first sends what the server owes the client (queued
		// control messages, the ack of everything delivered), so that the
		// client's account of what arrived is exact when the session ends.
		// A writer stuck on a dead peer gets a bounded wait.
		t := time.NewTimer(flushWait)
		select {
		case <-c.flushed:
		case <-c.writerGone:
		case <-t.C:
		}
		t.Stop()
		// Close waits for the peer's close frame for at most 5s, then
		// closes TCP; the reader ends either way. It returns nil when the
		// peer answered with the same code.
		err := c.ws.Close(code, reason)
		var ce websocket.CloseError
		switch {
		case err == nil:
			c.closeSeen = &websocket.CloseError{Code: code, Reason: reason}
		case errors.As(err, &ce):
			c.closeSeen = &ce
		}
	}()
	return true
}

// readLoop reads and handles client messages until the connection ends.
func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer close(c.readDone)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.readErr = err
			if errors.Is(err, websocket.ErrMessageTooBig) {
				ev := c.eventWithClient(result.KindBadFrame)
				ev.Code, ev.Text = result.CloseCode(websocket.StatusMessageTooBig), err.Error()
				c.s.emit(ev)
			}
			return
		}
		c.s.mu.Lock()
		closing := c.closing
		c.s.mu.Unlock()
		if closing {
			continue // the handshake is under way; discard
		}
		if typ != websocket.MessageText {
			c.bad(websocket.StatusUnsupportedData, "binary messages not supported", "binary message of "+strconv.Itoa(len(data))+" bytes")
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 section 8.1: text that is not UTF-8 fails the
			// connection with 1007, envelope or not. coder/websocket
			// does not check, so without this raw text was echoed back.
			c.bad(websocket.StatusInvalidFramePayloadData, "invalid UTF-8 in text message", strconv.Itoa(len(data))+" bytes, not UTF-8")
			continue
		}
		c.handle(data)
	}
}

// bad records a protocol violation and closes the connection with code.
func (c *conn) bad(code websocket.StatusCode, reason, detail string) {
	ev := c.eventWithClient(result.KindBadFrame)
	ev.Code, ev.Reason, ev.Text = result.CloseCode(code), reason, detail
	c.s.emit(ev)
	c.closeWith(code, reason)
}

func (c *conn) handle(data []byte) {
	s := c.s
	if !protocol.IsEnvelope(data) {
		ev := c.eventWithClient(result.KindRaw)
		if seq, ok := c.pushEcho(data); ok {
			// A plain client echoing the push back: answering it would
			// start an echo loop.
			ev.Seq, ev.Text = seq, "echo of push "+string(data)
			s.emit(ev)
			return
		}
		ev.Text = strconv.Itoa(len(data)) + " bytes"
		s.emit(ev)
		c.enqueue(outMsg{raw: data})
		return
	}
	env, err := protocol.Decode(data)
	if err != nil {
		c.bad(websocket.StatusPolicyViolation, "malformed envelope", err.Error())
		return
	}
	switch env.Type {
	case protocol.TypeHello:
		ev := c.event(result.KindHello)
		ev.ClientID, ev.Session, ev.Seq = env.ClientID, env.Session, env.LastSeq
		s.emit(ev)
		s.mu.Lock()
		twice := c.clientID != ""
		s.mu.Unlock()
		if twice {
			c.bad(websocket.StatusPolicyViolation, "hello sent twice", "second hello")
			return
		}
		res, ok := s.hello(c, env)
		if !ok {
			return
		}
		if res.stale {
			c.closeWith(StatusReplaced, "replaced by a newer connection")
			return
		}
		if res.replaced != nil {
			res.replaced.closeWith(StatusReplaced, "replaced")
		}
		if res.newSess {
			ev := c.event(result.KindSessionNew)
			ev.ClientID, ev.Session, ev.Seq = env.ClientID, res.welcome.Session, res.welcome.FromSeq
			s.emit(ev)
		}
	case protocol.TypeMsg:
		s.mu.Lock()
		ss := c.sess
		if ss == nil {
			s.mu.Unlock()
			c.bad(websocket.StatusPolicyViolation, "msg before hello", "msg seq "+strconv.FormatUint(env.Seq, 10))
			return
		}
		ev := Event{Kind: result.KindRecv, Conn: c.id, Remote: c.remote, ClientID: c.clientID, Session: ss.id, Seq: env.Seq}
		switch ss.receive(env.Seq) {
		case arrivedTwice:
			ev.Kind = result.KindDup
		case arrivedAhead:
			ev.Text = fmt.Sprintf("ahead: %d..%d not received yet", ss.lastC2S+1, env.Seq-1)
		case arrivedLate:
			ev.Text = fmt.Sprintf("late: after %d", ss.maxC2S)
		}
		c.ackPending = true
		c.poke()
		s.mu.Unlock()
		s.emit(ev)
	case protocol.TypeAck:
		ev := c.eventWithClient(result.KindAckRecv)
		ev.Seq = env.Seq
		s.emit(ev)
	case protocol.TypeEcho:
		ev := c.eventWithClient(result.KindEcho)
		ev.Text = "id " + strconv.FormatUint(env.ID, 10)
		s.emit(ev)
		c.enqueue(outMsg{env: protocol.Envelope{Type: protocol.TypeEcho, ID: env.ID, Body: env.Body}})
	default: // welcome: only the server sends it
		c.bad(websocket.StatusPolicyViolation, "unexpected "+string(env.Type), "client sent "+string(env.Type))
	}
}

// enqueue queues a control message, waiting while the queue is full.
func (c *conn) enqueue(m outMsg) {
	for {
		c.s.mu.Lock()
		if len(c.pending) < maxPending {
			c.pending = append(c.pending, m)
			c.poke()
			c.s.mu.Unlock()
			return
		}
		c.s.mu.Unlock()
		select {
		case <-c.drained:
		case <-c.writerGone:
			return
		}
	}
}

// next picks what to write: queued control messages first, then the
// cumulative ack, then the session's messages from the cursor on. Acks are
// therefore sent as soon as the writer is free, coalesced while it is busy.
func (c *conn) next() (outMsg, bool) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending[0] = outMsg{}
		c.pending = c.pending[1:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		select {
		case c.drained <- struct{}{}:
		default:
		}
		return m, true
	}
	ss := c.sess
	if ss != nil && c.ackPending {
		c.ackPending = false
		if ss.lastC2S > 0 {
			return outMsg{env: protocol.Envelope{Type: protocol.TypeAck, Seq: ss.lastC2S}}, true
		}
	}
	if c.closing {
		// Everything owed is written; the close frame comes next and no
		// more messages after it.
		c.flushedOnce.Do(func() { close(c.flushed) })
		return outMsg{}, false
	}
	if ss == nil && c.plain && c.pushDue && c.clientID == "" {
		c.pushDue = false
		c.pushSeq++
		return outMsg{raw: []byte(pushText(c.pushSeq)), kind: result.KindPush, seq: c.pushSeq}, true
	}
	if ss == nil || c.cursor > ss.lastSeq {
		return outMsg{}, false
	}
	m := outMsg{kind: result.KindSend}
	if oldest := ss.oldest(s.opts.ResumeMessages); c.cursor < oldest {
		// The client reads slower than the ring turns over.
		m.text = fmt.Sprintf("overrun: %d..%d skipped", c.cursor, oldest-1)
		c.cursor = oldest
	}
	m.env = pushMsg(c.cursor)
	c.cursor++
	return m, true
}

// pushText is the raw push number seq to a plain client: "p" and seq in
// ten digits, "p0000000001". The fixed width makes every push as long as
// the next: a fault that cuts the stream after a few bytes (limit_data)
// cuts the first push it meets, as it does a session message.
func pushText(seq uint64) string { return fmt.Sprintf("p%010d", seq) }

// pushEcho reports whether data is a plain client's echo of a raw push
// this connection wrote, and which.
func (c *conn) pushEcho(data []byte) (uint64, bool) {
	if len(data) != 11 || data[0] != 'p' {
		return 0, false
	}
	seq, err := strconv.ParseUint(string(data[1:]), 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	c.s.mu.Lock()
	sent := c.pushSeq
	c.s.mu.Unlock()
	return seq, seq <= sent
}

// becomePlain marks a connection that said no hello within PlainAfter as
// a plain WebSocket client, which gets raw pushes from now on.
func (c *conn) becomePlain() {
	c.s.mu.Lock()
	plain := c.clientID == "" && !c.plain
	c.plain = c.plain || plain
	c.s.mu.Unlock()
	if plain {
		ev := c.event(result.KindPlain)
		ev.Text = "no hello within " + c.s.opts.PlainAfter.String() + ": raw pushes from now on"
		c.s.emit(ev)
	}
}

func pushMsg(seq uint64) protocol.Envelope {
	return protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "s" + strconv.FormatUint(seq, 10)}
}

// writeLoop writes until the reader ends. After a failed write it stops
// writing and waits for the reader.
func (c *conn) writeLoop() {
	var helloTimeout, plainAfter <-chan time.Time
	if d := c.s.opts.HelloTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		helloTimeout = t.C
	}
	if d := c.s.opts.PlainAfter; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		plainAfter = t.C
	}
	defer c.gone.Do(func() { close(c.writerGone) })
	for {
		if m, ok := c.next(); ok {
			if err := c.write(m); err != nil {
				c.gone.Do(func() { close(c.writerGone) })
				_ = c.ws.CloseNow()
				<-c.readDone
				return
			}
			continue
		}
		select {
		case <-c.readDone:
			return
		case <-c.wake:
		case <-c.dropMid:
			c.midFrame()
		case <-plainAfter:
			c.becomePlain()
		case <-helloTimeout:
			c.s.mu.Lock()
			none := c.clientID == ""
			c.s.mu.Unlock()
			if none {
				c.bad(websocket.StatusPolicyViolation, "no hello", "no hello within "+c.s.opts.HelloTimeout.String())
			}
		}
	}
}

func (c *conn) write(m outMsg) error {
	b := m.raw
	if b == nil {
		var err error
		if b, err = protocol.Encode(m.env); err != nil {
			return err // cannot happen: every envelope built here is valid
		}
	}
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		return err
	}
	if m.kind != "" {
		ev := c.eventWithClient(m.kind)
		ev.Seq, ev.Text = cmp.Or(m.seq, m.env.Seq), m.text
		if m.kind == result.KindWelcome {
			ev.Session, ev.Seq = m.env.Session, m.env.FromSeq
			ev.Resumed, ev.Count = m.resumed, m.gap
		}
		c.s.emit(ev)
	}
	return nil
}

// midFrame writes a text frame header and half its payload, then closes
// TCP. The frame is the next message the client would get, so it is not
// counted as sent and a resume replays it.
func (c *conn) midFrame() {
	c.s.mu.Lock()
	env := protocol.Envelope{Type: protocol.TypeEcho, ID: 0, Body: "mid-frame"}
	if c.sess != nil {
		env = pushMsg(c.cursor)
	}
	c.dropped = true
	c.s.mu.Unlock()
	payload, _ := protocol.Encode(env)
	// Server frames are unmasked: FIN+text, then a 7-bit or 16-bit length.
	frame := []byte{0x81}
	if len(payload) < 126 {
		frame = append(frame, byte(len(payload)))
	} else {
		frame = append(frame, 126, byte(len(payload)>>8), byte(len(payload)))
	}
	frame = append(frame, payload[:len(payload)/2]...)
	_ = c.wire.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.wire.Write(frame)
	ev := c.eventWithClient(result.KindDrop)
	ev.Text = fmt.Sprintf("mid-frame: wrote %d of %d payload bytes", len(payload)/2, len(payload))
	if err != nil {
		ev.Text += ": " + err.Error()
	}
	c.s.emit(ev)
	_ = c.tcp.Close()
}

// clientPath reads the request path: "/ws" names no client, "/ws/<id>"
// names one, so that a client that never says hello (or many of them
// behind one address) can still be told apart. Anything else is not the
// server's.
func clientPath(path string) (id string, ok bool) {
	if path == "/ws" {
		return "", true
	}
	id, ok = strings.CutPrefix(path, "/ws/")
	if !ok || id == "" || len(id) > protocol.MaxIDLen {
		return "", false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", false
		}
	}
	return id, true
}

// statusWriter records the status Accept answers with when it refuses an
// upgrade. Accept finds the http.Hijacker through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
