package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/protocol"
	"github.com/wschaos/wschaos/result"
)

// connEnd describes how one attempt ended.
type connEnd struct {
	cause   Cause
	code    result.CloseCode
	status  int
	reason  string
	class   Class
	hint    time.Duration // server hint for ClassRetryHint; 0 if none
	at      time.Time     // when the end was detected
	readyAt time.Time     // when the connection became Ready; zero if never
}

// conn is one connection attempt. Its goroutines (reader, writer, pings)
// exit before teardown returns.
type conn struct {
	c  *Client
	no uint64
	ws *websocket.Conn

	rawMu sync.Mutex
	raw   []net.Conn // every transport connection the dial opened
	// pre is a connection opened before the handshake (the UnboundedConnect
	// defect), handed to the transport's first dial.
	pre net.Conn

	ctx    context.Context // ends after teardown closed the socket: stops writes and pings
	cancel context.CancelFunc
	done   chan struct{} // closed when the manager stops listening

	inbound chan frame // reader to manager
	werr    chan error // writer to manager, capacity 1

	wmu   sync.Mutex
	wq    []outFrame
	wwake chan struct{} // capacity 1

	lastIn atomic.Int64 // inbound liveness: nanoseconds since c.epoch
	wg     sync.WaitGroup
}

type frame struct {
	typ  websocket.MessageType
	data []byte
	err  error
}

// outFrame is one text message for the writer. plainSeq, in plain mode, is
// the outbox message it carries, which leaves the outbox once written.
type outFrame struct {
	data     []byte
	plainSeq uint64
}

func (cc *conn) touch() { cc.lastIn.Store(int64(time.Since(cc.c.epoch))) }

func (cc *conn) lastInbound() (time.Time, int64) {
	ns := cc.lastIn.Load()
	return cc.c.epoch.Add(time.Duration(ns)), ns
}

func (cc *conn) closeRaw() {
	cc.rawMu.Lock()
	defer cc.rawMu.Unlock()
	for _, nc := range cc.raw {
		_ = nc.Close()
	}
}

// transport dials through Options.Dial and keeps every connection it opens
// so teardown can close the socket under a peer that never answers.
func (c *Client) transport(cc *conn) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if nc := cc.takePre(); nc != nil {
				return nc, nil
			}
			nc, err := c.opts.Dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc.rawMu.Lock()
			cc.raw = append(cc.raw, nc)
			cc.rawMu.Unlock()
			return nc, nil
		},
		TLSClientConfig:   c.opts.TLSConfig,
		DisableKeepAlives: true,
		// A non-nil empty map turns HTTP/2 off: the upgrade needs HTTP/1.1.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// runConn makes one attempt: dial, upgrade and, in session mode, hello and
// welcome, then serves the connection until it ends. It reports the end as
// EventDisconnected before the teardown, so the event time is the detection
// time, and returns after the teardown.
func (c *Client) runConn(ctx context.Context) connEnd {
	o := &c.opts
	start := time.Now()
	cc := &conn{
		c:       c,
		no:      c.connNo,
		done:    make(chan struct{}),
		inbound: make(chan frame),
		werr:    make(chan error, 1),
		wwake:   make(chan struct{}, 1),
	}
	cc.touch()
	if o.quirks.UnboundedConnect {
		var end connEnd
		if start, end = c.connectUnbounded(ctx, cc); end.cause != "" {
			c.disconnected(cc, end)
			return end
		}
	}
	hsCtx, hsCancel := context.WithDeadline(ctx, start.Add(o.HandshakeTimeout))
	defer hsCancel()
	tr := c.transport(cc)
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(hsCtx, c.url, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr},
		HTTPHeader: o.HTTPHeader,
		Host:       o.Host,
		OnPingReceived: func(context.Context, []byte) bool {
			cc.touch()
			return true
		},
		OnPongReceived: func(context.Context, []byte) {
			cc.touch()
			c.emit(Event{Kind: EventPong, Conn: cc.no, Attempt: c.att()})
		},
	})
	if err != nil {
		cc.closeRaw()
		end := connEnd{at: time.Now(), cause: CauseDialError, reason: err.Error(), class: ClassRetry}
		switch {
		case ctx.Err() != nil:
			end.cause = CauseStopped
		case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
			end.cause, end.status = CauseHTTPStatus, resp.StatusCode
			end.reason = http.StatusText(resp.StatusCode)
			end.class, end.hint = ClassifyHTTP(resp.StatusCode, resp.Header.Get("Retry-After"))
		case hsCtx.Err() != nil:
			end.cause = CauseHandshakeTimeout
		}
		c.disconnected(cc, end)
		return end
	}
	cc.ws = ws
	ws.SetReadLimit(protocol.MaxFrameSize)
	cc.ctx, cc.cancel = context.WithCancel(context.Background())
	c.emit(Event{Kind: EventConnected, Conn: cc.no, Attempt: c.att()})
	cc.wg.Add(2)
	go cc.readLoop()
	go cc.writeLoop()

	if o.Session {
		hello := protocol.Envelope{Type: protocol.TypeHello, ClientID: o.ClientID}
		if c.sessionID != "" && !o.quirks.NoResume {
			hello.Session, hello.LastSeq = c.sessionID, c.lastIn
		}
		cc.write(hello)
	}

	end := c.serve(ctx, cc, start.Add(o.HandshakeTimeout))
	c.disconnected(cc, end)
	code, reason := websocket.StatusNormalClosure, ""
	switch end.cause {
	case CauseStopped, CauseHeartbeat, CauseAckTimeout, CauseHandshakeTimeout:
		code, reason = websocket.StatusGoingAway, string(end.cause)
	case CauseProtocolError:
		code, reason = websocket.StatusProtocolError, string(end.cause)
	}
	cc.teardown(code, reason)
	return end
}

// disconnected moves to the state that follows end and reports it.
func (c *Client) disconnected(cc *conn, end connEnd) {
	switch {
	case end.cause == CauseStopped, end.class == ClassFatal && !c.opts.quirks.RetryFatal:
		c.setState(StateStopped)
	default:
		c.setState(StateBackoff)
	}
	c.emit(Event{Kind: EventDisconnected, Conn: cc.no, Attempt: c.att(), Cause: end.cause, Code: end.code, Status: end.status, Reason: end.reason, Class: end.class})
}

// teardown closes the connection without ever waiting on a dead peer: the
// close handshake gets CloseGrace, then the socket is closed under it. It
// returns when every goroutine of cc has exited.
func (cc *conn) teardown(code websocket.StatusCode, reason string) {
	close(cc.done)
	if cc.c.opts.quirks.WaitForDeadPeer {
		_ = cc.ws.Close(code, reason)
	} else {
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = cc.ws.Close(code, reason)
		}()
		t := time.NewTimer(cc.c.opts.CloseGrace)
		select {
		case <-closed:
			t.Stop()
		case <-t.C:
			cc.closeRaw()
			<-closed
		}
	}
	cc.cancel()
	cc.closeRaw()
	cc.wg.Wait()
}

// readLoop hands every inbound message, then the error that ended reading,
// to the manager. It exits after the error or when the manager stops
// listening, which teardown makes happen by closing the socket.
func (cc *conn) readLoop() {
	defer cc.wg.Done()
	for {
		typ, data, err := cc.ws.Read(context.Background())
		if err == nil {
			cc.touch()
		}
		select {
		case cc.inbound <- frame{typ: typ, data: data, err: err}:
		case <-cc.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// write queues e for the writer goroutine, so the manager never blocks on a
// peer that does not read.
func (cc *conn) write(e protocol.Envelope) {
	b, err := protocol.Encode(e)
	if err != nil {
		cc.c.opts.Logger.Error("client: cannot encode envelope", "type", e.Type, "err", err)
		return
	}
	cc.queue(outFrame{data: b})
}

// queue hands f to the writer goroutine.
func (cc *conn) queue(f outFrame) {
	cc.wmu.Lock()
	cc.wq = append(cc.wq, f)
	cc.wmu.Unlock()
	select {
	case cc.wwake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued envelopes in order. It exits on the first write
// error (reported to the manager) or when the manager stops listening.
func (cc *conn) writeLoop() {
	defer cc.wg.Done()
	for {
		select {
		case <-cc.done:
			return
		case <-cc.wwake:
		}
		for {
			cc.wmu.Lock()
			q := cc.wq
			cc.wq = nil
			cc.wmu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, f := range q {
				if err := cc.ws.Write(cc.ctx, websocket.MessageText, f.data); err != nil {
					cc.werr <- err
					return
				}
				if f.plainSeq != 0 {
					cc.c.removeWritten(f.plainSeq)
				}
				if cc.c.opts.quirks.LivenessOnOutbound {
					cc.touch()
				}
			}
		}
	}
}

// ping sends one ping; its result is ignored because any inbound frame,
// including the pong, counts as liveness through touch.
func (cc *conn) ping() {
	cc.wg.Add(1)
	go func() {
		defer cc.wg.Done()
		if cc.c.opts.quirks.LivenessOnOutbound {
			cc.touch()
		}
		_ = cc.ws.Ping(cc.ctx)
	}()
}

// connState is one connection's state while it is served: whether it is
// ready, the heartbeat's and the acks' bookkeeping. It lives on Run's
// goroutine only.
type connState struct {
	c          *Client
	cc         *conn
	hsDeadline time.Time
	ready      bool
	readyAt    time.Time
	pingedFor  int64 // the lastIn value a ping was sent for; -1 for none
	ackPending bool
	ackDue     time.Time
	unackedIn  int
}

// serve runs the connection's state machine on Run's goroutine until the
// connection ends. A single timer is re-armed to the exact next deadline
// (handshake, ping, heartbeat, ack timeout, ack flush), so detection happens
// exactly PingInterval+PongTimeout after the last inbound frame. In plain
// mode the connection is ready at once: the upgrade is all there is.
func (c *Client) serve(ctx context.Context, cc *conn, hsDeadline time.Time) connEnd {
	s := &connState{c: c, cc: cc, hsDeadline: hsDeadline, pingedFor: -1}
	if !c.opts.Session {
		s.ready, s.readyAt = true, time.Now()
		c.becomeReady(cc, false)
		c.flushOutbox(cc)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		timer.Reset(s.nextDeadline(now).Sub(now))
		select {
		case <-ctx.Done():
			return s.ending(CauseStopped, 0, ctx.Err().Error(), ClassRetry, 0)
		case err := <-cc.werr:
			return s.writeFailed(err)
		case f := <-cc.inbound:
			if end, over := s.inbound(f); over {
				return end
			}
		case <-c.wake:
			if s.ready {
				c.flushOutbox(cc)
			}
		case <-timer.C:
			if end, over := s.deadline(time.Now()); over {
				return end
			}
		}
	}
}

func (s *connState) ending(cause Cause, code result.CloseCode, reason string, class Class, hint time.Duration) connEnd {
	return connEnd{cause: cause, code: code, reason: reason, class: class, hint: hint, at: time.Now(), readyAt: s.readyAt}
}

// nextDeadline is the earliest moment something is due: the handshake
// deadline before ready, then the next ping, the heartbeat's and the ack
// timeout's deadlines and the ack flush.
func (s *connState) nextDeadline(now time.Time) time.Time {
	o := &s.c.opts
	if !s.ready {
		return s.hsDeadline
	}
	next := now.Add(24 * time.Hour)
	if !o.quirks.NoHeartbeat {
		last, lastNs := s.cc.lastInbound()
		if s.pingedFor != lastNs {
			next = earliest(next, last.Add(o.PingInterval))
		}
		next = earliest(next, last.Add(o.PingInterval+o.PongTimeout))
		if sentAt, ok := s.c.oldestSent(s.cc.no); ok {
			next = earliest(next, sentAt.Add(o.AckTimeout))
		}
	}
	if s.ackPending {
		next = earliest(next, s.ackDue)
	}
	return next
}

// writeFailed ends the connection after a failed write. A failed write
// usually means the connection is gone; a close frame the reader got
// meanwhile says more, so the reader is let finish.
func (s *connState) writeFailed(err error) connEnd {
	s.cc.closeRaw()
	for f := range s.cc.inbound {
		if f.err != nil {
			if end, ok := closeFrameEnd(f.err); ok {
				end.at, end.readyAt = time.Now(), s.readyAt
				return end
			}
			break
		}
	}
	return s.ending(CauseWriteError, result.CloseCode(websocket.StatusAbnormalClosure), err.Error(), ClassRetry, 0)
}

// inbound handles one frame from the reader; over is true when it ends the
// connection.
func (s *connState) inbound(f frame) (end connEnd, over bool) {
	c, cc := s.c, s.cc
	if f.err != nil {
		if end, ok := closeFrameEnd(f.err); ok {
			end.at, end.readyAt = time.Now(), s.readyAt
			return end, true
		}
		return s.ending(CauseReadError, result.CloseCode(websocket.StatusAbnormalClosure), f.err.Error(), ClassRetry, 0), true
	}
	if !c.opts.Session {
		if c.opts.OnMessage != nil {
			c.opts.OnMessage(Message{Body: string(f.data), Binary: f.typ == websocket.MessageBinary})
		}
		return connEnd{}, false
	}
	env, err := protocol.Decode(f.data)
	if err != nil {
		return s.ending(CauseProtocolError, 0, err.Error(), ClassRetry, 0), true
	}
	switch env.Type {
	case protocol.TypeWelcome:
		if s.ready {
			return s.ending(CauseProtocolError, 0, "second welcome", ClassRetry, 0), true
		}
		s.ready, s.readyAt = true, time.Now()
		c.welcome(cc, env)
		c.flushOutbox(cc)
	case protocol.TypeMsg:
		if !s.ready {
			return s.ending(CauseProtocolError, 0, "msg before welcome", ClassRetry, 0), true
		}
		c.deliver(cc, env)
		s.unackedIn++
		if s.unackedIn >= ackBatch {
			s.flushAck()
		} else if !s.ackPending {
			s.ackPending, s.ackDue = true, time.Now().Add(c.opts.AckDelay)
		}
	case protocol.TypeAck:
		c.ackOutbox(env.Seq)
	case protocol.TypeEcho:
		// The server answers echoes; an echo from the server needs nothing.
	default:
		return s.ending(CauseProtocolError, 0, "unexpected "+string(env.Type)+" from server", ClassRetry, 0), true
	}
	return connEnd{}, false
}

// flushAck acknowledges every inbound message so far.
func (s *connState) flushAck() {
	if s.c.lastIn > 0 {
		s.cc.write(protocol.Envelope{Type: protocol.TypeAck, Seq: s.c.lastIn})
	}
	s.ackPending, s.unackedIn = false, 0
}

// deadline acts on whatever is due at now: the handshake timeout, the
// heartbeat, the ack timeout, a ping, an ack flush. over is true when it
// ends the connection.
func (s *connState) deadline(now time.Time) (end connEnd, over bool) {
	c, cc, o := s.c, s.cc, &s.c.opts
	if !s.ready {
		if !now.Before(s.hsDeadline) {
			return s.ending(CauseHandshakeTimeout, 0, "no welcome within "+o.HandshakeTimeout.String(), ClassRetry, 0), true
		}
		return connEnd{}, false
	}
	if !o.quirks.NoHeartbeat {
		last, lastNs := cc.lastInbound()
		if silence := now.Sub(last); silence >= o.PingInterval+o.PongTimeout {
			return s.ending(CauseHeartbeat, 0, "no inbound frame for "+silence.String(), ClassRetry, 0), true
		}
		if sentAt, ok := c.oldestSent(cc.no); ok && now.Sub(sentAt) >= o.AckTimeout {
			return s.ending(CauseAckTimeout, 0, "msg unacknowledged for "+now.Sub(sentAt).String(), ClassRetry, 0), true
		}
		if s.pingedFor != lastNs && now.Sub(last) >= o.PingInterval {
			s.pingedFor = lastNs
			c.emit(Event{Kind: EventPing, Conn: cc.no, Attempt: c.att()})
			cc.ping()
		}
	}
	if s.ackPending && !now.Before(s.ackDue) {
		s.flushAck()
	}
	return connEnd{}, false
}

// ackBatch is how many inbound messages make the client ack at once.
const ackBatch = 64

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// closeFrameEnd reports whether err carries the peer's close frame.
func closeFrameEnd(err error) (connEnd, bool) {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return connEnd{}, false
	}
	class, hint := ClassifyClose(int(ce.Code), ce.Reason)
	return connEnd{cause: CauseCloseFrame, code: result.CloseCode(ce.Code), reason: ce.Reason, class: class, hint: hint}, true
}

// becomeReady makes the connection Ready and reports it, with the downtime
// since the last connection was lost; resumed is the welcome's word in
// session mode.
func (c *Client) becomeReady(cc *conn, resumed bool) {
	reconnect := c.everReady
	c.everReady = true
	if c.opts.quirks.ResetBackoffOnConnect {
		c.attempt.Store(0)
	}
	c.setState(StateReady)
	ev := Event{Kind: EventReady, Conn: cc.no, Attempt: c.att(), Resumed: resumed}
	if reconnect {
		ev.Downtime = time.Since(c.lostAt)
	}
	c.emit(ev)
}

// welcome makes the connection Ready in session mode: it records the
// session, settles the outbox against the server's ack, reports the
// readiness and any gap.
func (c *Client) welcome(cc *conn, w protocol.Envelope) {
	o := &c.opts
	hadSession := c.sessionID != ""
	if c.everReady && o.quirks.DropOutboxOnReconnect {
		c.dropOutbox()
	}
	c.sessionID = w.Session
	if w.Ack > 0 {
		c.ackOutbox(w.Ack)
	}
	c.becomeReady(cc, w.Resumed)
	switch {
	case w.Gap > 0:
		c.emit(Event{Kind: EventGap, Conn: cc.no, Attempt: c.att(), Gap: w.Gap})
	case !w.Resumed && hadSession && !o.quirks.NoResume:
		c.emit(Event{Kind: EventGap, Conn: cc.no, Attempt: c.att(), SessionLost: true})
	}
	if !w.Resumed || w.Gap > 0 {
		c.lastIn = 0
		if w.FromSeq > 0 {
			c.lastIn = w.FromSeq - 1
		}
	}
}

// deliver hands an inbound msg to OnMessage once, in order: duplicates are
// dropped and a jump in sequence is reported as a gap.
func (c *Client) deliver(cc *conn, m protocol.Envelope) {
	if m.Seq <= c.lastIn && !c.opts.quirks.DeliverDuplicates {
		return
	}
	if m.Seq > c.lastIn+1 {
		c.emit(Event{Kind: EventGap, Conn: cc.no, Attempt: c.att(), Gap: m.Seq - c.lastIn - 1})
	}
	c.lastIn = max(c.lastIn, m.Seq)
	if c.opts.OnMessage != nil {
		c.opts.OnMessage(Message{Seq: m.Seq, Body: m.Body})
	}
}

// flushOutbox queues, in order, every outbox message not yet written on cc:
// as a msg envelope in session mode, as its bare text in plain mode.
func (c *Client) flushOutbox(cc *conn) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	order := c.outbox
	if c.opts.quirks.ResendReversed {
		order = slices.Clone(order)
		slices.Reverse(order)
	}
	for _, m := range order {
		if m.sentConn == cc.no {
			continue
		}
		m.sentConn, m.sentAt = cc.no, now
		if !c.opts.Session {
			cc.queue(outFrame{data: []byte(m.body), plainSeq: m.seq})
			continue
		}
		cc.write(protocol.Envelope{Type: protocol.TypeMsg, Seq: m.seq, Body: m.body})
	}
}

// oldestSent returns when the oldest unacknowledged message written on
// connection no was written, for the ack timeout. Plain mode has no
// acknowledgements, so nothing there awaits one.
func (c *Client) oldestSent(no uint64) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.opts.Session || len(c.outbox) == 0 || c.outbox[0].sentConn != no {
		return time.Time{}, false
	}
	return c.outbox[0].sentAt, true
}
