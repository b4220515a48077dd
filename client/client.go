package client

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wschaos/wschaos/protocol"
)

// Client is a WebSocket client that stays connected: it detects dead peers
// and reconnects with backoff against any server, and in session mode
// (Options.Session) also resends unacknowledged messages and resumes
// inbound delivery. Make one with New and call Run once; Send, State,
// DetectionBound and Options are safe to call from any goroutine.
type Client struct {
	url  string
	opts Options

	running atomic.Bool
	attempt atomic.Int64 // consecutive failed attempts; written by Run's goroutine only
	state   atomic.Int32

	// epoch is the origin of the nanosecond clocks kept in atomics.
	epoch time.Time

	evMu sync.Mutex // serialises OnEvent and logging

	mu      sync.Mutex // guards the fields below
	stopped bool
	nextSeq uint64
	outbox  []*outMsg
	obBytes int
	wake    chan struct{} // capacity 1: Send tells the connection a message is queued

	// Owned by Run's goroutine.
	connNo    uint64
	sessionID string // the server's session, once welcomed (session mode)
	lastIn    uint64 // last server sequence delivered
	readies   int    // connections that became Ready
	lostAt    time.Time
	everReady bool
}

// maxBody leaves room for the envelope around a body within
// protocol.MaxFrameSize, assuming JSON escaping does not grow it much.
const maxBody = protocol.MaxFrameSize / 2

// outMsg is one outbound message in the outbox.
type outMsg struct {
	seq      uint64
	body     string
	queued   time.Time
	sentConn uint64 // connection it was last written on; 0 if never
	sentAt   time.Time
}

// New checks url (ws or wss) and opts and returns a Client that is not yet
// connected. Options.Options returns the options after defaults.
func New(url string, opts Options) (*Client, error) {
	if err := validate(url, opts); err != nil {
		return nil, err
	}
	c := &Client{
		url:   url,
		opts:  opts.withDefaults(),
		epoch: time.Now(),
		wake:  make(chan struct{}, 1),
	}
	c.state.Store(int32(StateIdle))
	return c, nil
}

// Options returns the effective options, after defaults.
func (c *Client) Options() Options { return c.opts }

// State returns the current state.
func (c *Client) State() State { return State(c.state.Load()) }

// DetectionBound is the worst-case time from the last inbound frame of a dead
// connection to the client declaring it dead: PingInterval+PongTimeout.
func (c *Client) DetectionBound() time.Duration {
	return c.opts.PingInterval + c.opts.PongTimeout
}

// Send queues body, a text message, in the outbox and returns its sequence
// number. It does not wait for the network: messages queued while
// disconnected are written once a connection is Ready.
//
// In session mode the number goes on the wire, and a message stays in the
// outbox, resent after each reconnect, until the server acknowledges it.
// In plain mode the number is local (it counts Send's messages, for logs and
// FatalError.Undelivered); a message leaves the outbox once it has been
// written to a connection, and one not yet written when a connection is
// lost is written on the next. Written is not delivered: with no
// acknowledgement, a message written just before a loss may never reach the
// server, and the client cannot know. Plain mode makes no resend guarantee.
//
// Send returns an error wrapping ErrOutboxFull when the outbox is at its
// message, byte or age limit, and ErrStopped after Run returned.
func (c *Client) Send(ctx context.Context, body string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, ErrStopped
	}
	if len(body) > maxBody {
		return 0, fmt.Errorf("client: body is %d bytes, at most %d allowed", len(body), maxBody)
	}
	switch {
	case c.opts.quirks.UnboundedOutbox:
	case len(c.outbox) >= c.opts.OutboxMessages:
		return 0, fmt.Errorf("client: %d messages queued, at most %d allowed: %w", len(c.outbox), c.opts.OutboxMessages, ErrOutboxFull)
	case c.obBytes+len(body) > c.opts.OutboxBytes:
		return 0, fmt.Errorf("client: %d bytes queued, %d more would exceed %d: %w", c.obBytes, len(body), c.opts.OutboxBytes, ErrOutboxFull)
	case len(c.outbox) > 0 && now.Sub(c.outbox[0].queued) > c.opts.OutboxAge:
		return 0, fmt.Errorf("client: oldest message (seq %d) waiting %v, longer than %v: %w", c.outbox[0].seq, now.Sub(c.outbox[0].queued), c.opts.OutboxAge, ErrOutboxFull)
	}
	c.nextSeq++
	c.outbox = append(c.outbox, &outMsg{seq: c.nextSeq, body: body, queued: now})
	c.obBytes += len(body)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return c.nextSeq, nil
}

// ackOutbox removes every message up to and including seq.
func (c *Client) ackOutbox(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.outbox) && c.outbox[i].seq <= seq {
		c.obBytes -= len(c.outbox[i].body)
		i++
	}
	if i > 0 {
		c.outbox = append(c.outbox[:0:0], c.outbox[i:]...)
	}
}

// removeWritten removes message seq once it was written to a connection:
// in plain mode, where no acknowledgement will come, that is all the client
// can know of it.
func (c *Client) removeWritten(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.outbox {
		if m.seq == seq {
			c.obBytes -= len(m.body)
			c.outbox = slices.Delete(c.outbox, i, i+1)
			return
		}
	}
}

// giveUpOutbox empties the outbox and returns what it held, in order: the
// messages accepted and never acknowledged, which a fatal stop reports to
// the application rather than dropping them silently.
func (c *Client) giveUpOutbox() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Message
	for _, m := range c.outbox {
		out = append(out, Message{Seq: m.seq, Body: m.body})
	}
	c.outbox, c.obBytes = nil, 0
	return out
}

func (c *Client) dropOutbox() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outbox, c.obBytes = nil, 0
}

func (c *Client) att() int { return int(c.attempt.Load()) }

func (c *Client) setState(s State) { c.state.Store(int32(s)) }

// emit stamps ev, reports it to OnEvent and logs it. Calls are serialised.
func (c *Client) emit(ev Event) {
	ev.Time = time.Now()
	ev.State = c.State()
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
	level := slog.LevelInfo
	if ev.Kind == EventPing || ev.Kind == EventPong || ev.Kind == EventDialing {
		level = slog.LevelDebug
	}
	if !c.opts.Logger.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("state", ev.State.String()),
		slog.Uint64("conn", ev.Conn),
		slog.Int("attempt", ev.Attempt),
	}
	if ev.Cause != "" {
		attrs = append(attrs, slog.String("cause", string(ev.Cause)), slog.String("class", string(ev.Class)))
	}
	if ev.Code != 0 {
		attrs = append(attrs, slog.Int("code", int(ev.Code)))
	}
	if ev.Status != 0 {
		attrs = append(attrs, slog.Int("status", ev.Status))
	}
	if ev.Reason != "" {
		attrs = append(attrs, slog.String("reason", ev.Reason))
	}
	if ev.Kind == EventBackoff {
		attrs = append(attrs, slog.Duration("next_delay", ev.NextDelay))
		if ev.Hint != 0 {
			attrs = append(attrs, slog.Duration("hint", ev.Hint))
		}
	}
	if ev.Kind == EventReady {
		attrs = append(attrs, slog.Bool("resumed", ev.Resumed), slog.Duration("downtime", ev.Downtime))
	}
	if ev.Kind == EventGap {
		attrs = append(attrs, slog.Uint64("gap", ev.Gap), slog.Bool("session_lost", ev.SessionLost))
	}
	if ev.Kind == EventUndelivered {
		attrs = append(attrs, slog.Int("undelivered", len(ev.Undelivered)))
	}
	c.opts.Logger.LogAttrs(context.Background(), level, "client "+string(ev.Kind), attrs...)
}

// Run connects, stays connected and reconnects until ctx ends, when it
// returns ctx.Err() after a teardown bounded by CloseGrace, or until the
// server ends the session fatally, when it returns a *FatalError. Every
// goroutine Run starts has exited when it returns. Run may be called once.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errRunTwice
	}
	err := c.run(ctx)
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.setState(StateStopped)
	c.emit(Event{Kind: EventStopped, Conn: c.connNo, Attempt: c.att(), Reason: err.Error()})
	return err
}

func (c *Client) run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.connNo++
		c.setState(StateConnecting)
		c.emit(Event{Kind: EventDialing, Conn: c.connNo, Attempt: c.att()})
		end := c.runConn(ctx)
		if end.cause == CauseStopped {
			return ctx.Err()
		}
		if !end.readyAt.IsZero() {
			c.lostAt = end.at
		}
		if end.class == ClassFatal && !c.opts.quirks.RetryFatal {
			c.emit(Event{Kind: EventFatal, Conn: c.connNo, Attempt: c.att(), Cause: end.cause, Code: end.code, Status: end.status, Reason: end.reason, Class: end.class})
			err := &FatalError{Cause: end.cause, Code: end.code, Status: end.status, Reason: end.reason, Undelivered: c.giveUpOutbox()}
			if c.opts.quirks.SilentFatal {
				err.Undelivered = nil
			}
			if len(err.Undelivered) > 0 {
				c.emit(Event{Kind: EventUndelivered, Conn: c.connNo, Attempt: c.att(), Cause: end.cause, Undelivered: err.Undelivered})
			}
			return err
		}
		if !end.readyAt.IsZero() && end.at.Sub(end.readyAt) >= c.opts.MinHealthyUptime {
			c.attempt.Store(0)
		}
		c.attempt.Add(1)
		if c.opts.quirks.GiveUpAfterRetry && c.att() > 1 {
			return fmt.Errorf("client: gave up after a failed reconnect: %s", end.cause)
		}
		delay, hint := c.nextDelay(end)
		c.emit(Event{Kind: EventBackoff, Conn: c.connNo, Attempt: c.att(), Cause: end.cause, Code: end.code, Status: end.status, Class: end.class, NextDelay: delay, Hint: hint})
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// nextDelay picks the delay before the next dial. For a hint class the delay
// is at least the hint, clamped to [Backoff.Initial, HintMax], plus upward
// jitter of up to Jitter*hint so a herd told the same hint spreads out.
func (c *Client) nextDelay(end connEnd) (delay, hint time.Duration) {
	b := c.opts.Backoff
	delay = b.Delay(c.att(), c.opts.Rand.Float64())
	if end.class != ClassRetryHint || c.opts.quirks.IgnoreHints || (c.opts.quirks.IgnoreCloseHint && end.cause == CauseCloseFrame) {
		return delay, 0
	}
	hint = end.hint
	if hint == 0 {
		hint = b.Max
	}
	hint = min(max(hint, b.Initial), c.opts.HintMax)
	withJitter := toDuration(float64(hint) * (1 + b.Jitter*c.opts.Rand.Float64()))
	return max(delay, withJitter), hint
}
