package stress

import (
	"fmt"
	"slices"
	"strings"

	h "github.com/wschaos/wschaos/harness"
	"github.com/wschaos/wschaos/result"
)

// clientState is what the coordinator knows of one client. Lifecycle
// events are kept as they came; of the message events only the sequence
// numbers are. The fields the fake server's events feed are in srv, under
// coord.srvMu: the server calls its event hook with its own lock held, so
// that hook must never wait on the busy coord.mu.
type clientState struct {
	events  []result.Event
	ready   bool
	readies int
	gotPush bool
	fatal   bool
	upSent  seqLog // the workload's sends
	downGot seqLog // the client's deliveries
	srv     struct {
		gotSend  bool
		upGot    seqLog // the server's deliveries
		downSent seqLog // the server's writes
	}
}

// seqLog is the sequence numbers one side of one direction saw, in the
// order it saw them, and the highest.
type seqLog struct {
	seqs []uint64
	max  uint64
}

func (l *seqLog) add(seq uint64) {
	l.seqs = append(l.seqs, seq)
	l.max = max(l.max, seq)
}

// timeline is the client's events as harness.Timeline.Flows reads them: its
// lifecycle events (gaps and undelivered messages among them) and its
// message events, rebuilt from the sequence logs in the order each side saw
// them. The coordinator keeps sequence numbers rather than events for the
// messages, which are most of what a long run records, so that the harness
// counts continuity here as it does in the catalogue. Called with srvMu
// held, or after the run.
func (cs *clientState) timeline(id string, o *h.Timeline) *h.Timeline {
	evs := slices.Clone(cs.events)
	add := func(kind result.Kind, l *seqLog) {
		for _, s := range l.seqs {
			evs = append(evs, result.Event{Source: kind.Source(), Kind: kind, Client: id, Seq: s})
		}
	}
	add(result.KindSent, &cs.upSent)
	add(result.KindRecv, &cs.srv.upGot)
	add(result.KindSend, &cs.srv.downSent)
	add(result.KindReceived, &cs.downGot)
	tl := *o
	tl.Events, tl.Clients = evs, []string{id}
	return &tl
}

// onWire takes one decoded line from the worker that runs cfg.
func (c *coord) onWire(wp *proc, cfg WorkerConfig, w wire) error {
	switch w.Type {
	case wireHello:
		return nil
	case wireStats, wireBye:
		c.setRes(wp, w)
		return nil
	case wireError:
		c.fail("%s: %s", wp.name, w.Message)
		return nil
	}
	e := *w.Ev
	idx, _ := clientIndex(e.Client) // decodeWire checked it
	if idx < cfg.First || idx >= cfg.First+cfg.Count {
		return fmt.Errorf("%w: client %s is not one of %s's (c%d..c%d)", ErrWireLine, e.Client, wp.name, cfg.First, cfg.First+cfg.Count-1)
	}
	e.TMS = c.tms(w.T)
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.client(idx)
	switch e.Kind {
	case result.KindSent:
		if e.TMS <= c.drainAt {
			cs.upSent.add(e.Seq)
		}
		return nil
	case result.KindReceived:
		cs.gotPush = true
		cs.downGot.add(e.Seq)
		return nil
	}
	cs.events = append(cs.events, e)
	c.lifecycle(cs, e)
	return nil
}

// lifecycle follows a client's readiness. Called with c.mu held.
func (c *coord) lifecycle(cs *clientState, e result.Event) {
	switch e.Kind {
	case result.KindReady:
		if !cs.ready {
			c.readyNow++
			c.changed.Changed()
		}
		c.lastReadyMS = max(c.lastReadyMS, e.TMS)
		cs.ready = true
		cs.readies++
		if cs.readies > 1 {
			c.reconn++
		}
	case result.KindDisconnected, result.KindStopped, result.KindFatal:
		if cs.ready {
			c.readyNow--
			c.changed.Changed()
		}
		cs.ready = false
		if e.Kind == result.KindFatal && !cs.fatal {
			cs.fatal = true
			c.fatals++
			c.changed.Changed()
		}
	}
}

// allWarm: every client is ready, has had a server message delivered and
// has had a message delivered to the server. Called with c.mu held.
func (c *coord) allWarm() bool {
	if c.readyNow < len(c.clients) {
		return false
	}
	for _, cs := range c.clients {
		if !cs.ready || !cs.gotPush {
			return false
		}
	}
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	for _, cs := range c.clients {
		if !cs.srv.gotSend {
			return false
		}
	}
	return true
}

// allReady: every client that has not stopped for good is ready. Called
// with c.mu held.
func (c *coord) allReady() bool {
	return c.readyNow+c.fatals == len(c.clients)
}

// drained: every running client has had all its messages delivered to the
// server and every server message delivered to it. Called with c.mu held.
func (c *coord) drained() bool {
	c.srvMu.Lock()
	defer c.srvMu.Unlock()
	for _, cs := range c.clients {
		if !cs.fatal && (cs.srv.upGot.max < cs.upSent.max || cs.downGot.max < cs.srv.downSent.max) {
			return false
		}
	}
	return true
}

// warmShortfall says how far from warm the clients are.
func (c *coord) warmShortfall() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ready, push, send int
	c.srvMu.Lock()
	for _, cs := range c.clients {
		if cs.ready {
			ready++
		}
		if cs.gotPush {
			push++
		}
		if cs.srv.gotSend {
			send++
		}
	}
	c.srvMu.Unlock()
	msg := fmt.Sprintf("clients never warmed up: %d of %d ready, %d had a server message, %d had a message delivered; last events: %s",
		ready, len(c.clients), push, send, c.lastEvents())
	if len(c.errs) > 0 {
		msg += "; " + strings.Join(c.errs, "; ")
	}
	return msg
}

// lastEvents summarises the clients' latest events by kind and cause, most
// common first: what the clients not ready are doing. Called with c.mu
// held.
func (c *coord) lastEvents() string {
	counts := map[string]int{}
	for _, cs := range c.clients {
		k := "none"
		if len(cs.events) > 0 {
			e := cs.events[len(cs.events)-1]
			k = strings.TrimSpace(string(e.Kind) + " " + string(e.Cause))
		}
		counts[k]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := counts[b] - counts[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for i, k := range keys {
		if i == 5 {
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}
