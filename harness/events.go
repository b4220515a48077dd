package harness

import (
	"time"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/result"
)

// Every component's events are recorded as they are: the client, the fake
// server and the tap already speak the result vocabulary, so recording is a
// copy of typed fields, never a translation of text.

// ClientEvent is a reference client's event as the result records it.
func ClientEvent(id string, ev client.Event) result.Event {
	e := result.Event{
		Source: result.SourceClient, Kind: ev.Kind, Client: id, Conn: ev.Conn, Attempt: ev.Attempt,
		Cause: ev.Cause, Class: ev.Class, Code: ev.Code, Status: ev.Status, Reason: ev.Reason,
		DelayMS: ms(ev.NextDelay), HintMS: ms(ev.Hint), DowntimeMS: ms(ev.Downtime), Resumed: ev.Resumed,
	}
	switch ev.Kind {
	case client.EventGap:
		e.Count = ev.Gap
		if ev.SessionLost {
			e.Text = "the server no longer knew the session"
		}
	case client.EventUndelivered:
		e.Count = uint64(len(ev.Undelivered))
		for _, m := range ev.Undelivered {
			e.Seqs = append(e.Seqs, m.Seq)
		}
	}
	return e
}

func (r *run) onClient(id string) func(client.Event) {
	return func(ev client.Event) {
		e := ClientEvent(id, ev)
		r.note(ev.Time, e, func() {
			switch ev.Kind {
			case client.EventReady, client.EventDisconnected, client.EventFatal, client.EventStopped, client.EventBackoff, client.EventDialing:
				r.state[id] = ev.Kind
			}
			switch ev.Kind {
			case client.EventReady:
				r.heard[id] = false
			case client.EventPong:
				r.heard[id] = true
			}
		})
	}
}

func (r *run) onMessage(id string) func(client.Message) {
	return func(m client.Message) {
		r.note(time.Now(), result.Event{Source: result.SourceClient, Client: id, Kind: result.KindReceived, Seq: m.Seq}, func() {
			r.gotPush[id] = true
			r.heard[id] = true
			r.downDelivered[id] = max(r.downDelivered[id], m.Seq)
		})
	}
}

// ServerEvent is a fake server's event as the result records it.
func ServerEvent(ev fakeserver.Event) result.Event {
	return result.Event{
		Source: result.SourceServer, Kind: ev.Kind, Client: ev.ClientID, Conn: ev.Conn,
		Code: ev.Code, Status: ev.Status, Reason: ev.Reason, Seq: ev.Seq, Resumed: ev.Resumed, Count: ev.Count, Text: ev.Text,
	}
}

func (r *run) onServer(ev fakeserver.Event) {
	e := ServerEvent(ev)
	defer r.observe(ev.Time, e)
	r.note(ev.Time, e, func() {
		switch ev.Kind {
		case result.KindRecv:
			r.gotSend[ev.ClientID] = true
			r.upDelivered[ev.ClientID] = max(r.upDelivered[ev.ClientID], ev.Seq)
		case result.KindSend:
			r.downSent[ev.ClientID] = max(r.downSent[ev.ClientID], ev.Seq)
		}
	})
}

// TapEvent is a wire tap's event as the result records it; since converts
// a moment to the timeline's milliseconds.
func TapEvent(ev chaosnet.TapEvent, since func(time.Time) float64) result.Event {
	e := result.Event{Source: result.SourceTap, Kind: ev.Kind, Conn: ev.Conn,
		BytesUp: ev.BytesUp, BytesDown: ev.BytesDown, Reset: ev.Reset, Status: ev.Status, Reason: ev.Reason, Text: ev.Text}
	if ev.Kind == result.KindTapConnect {
		e.Text = ev.Client
	}
	if !ev.LastDown.IsZero() {
		e.LastDownMS = since(ev.LastDown)
	}
	if ev.Stopped {
		e.Cause = result.CauseStopped
	}
	return e
}

func (r *run) onTap(ev chaosnet.TapEvent) {
	e := TapEvent(ev, r.rec.since)
	r.note(ev.Time, e, nil)
	r.observe(ev.Time, e)
}
