package client

import (
	"github.com/wschaos/wschaos/internal/quirks"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/protocol"
)

func TestOutboxLimits(t *testing.T) {
	t.Run("Messages", func(t *testing.T) {
		c, err := New("ws://x/", Options{OutboxMessages: 2})
		require.NoError(t, err)
		for want := uint64(1); want <= 2; want++ {
			seq, err := c.Send(t.Context(), "m")
			require.NoError(t, err)
			assert.Equal(t, want, seq)
		}
		_, err = c.Send(t.Context(), "m")
		assert.ErrorIs(t, err, ErrOutboxFull)
		assert.ErrorContains(t, err, "2 messages queued, at most 2 allowed")
	})
	t.Run("Bytes", func(t *testing.T) {
		c, err := New("ws://x/", Options{OutboxBytes: 10})
		require.NoError(t, err)
		_, err = c.Send(t.Context(), "12345678")
		require.NoError(t, err)
		_, err = c.Send(t.Context(), "123")
		assert.ErrorIs(t, err, ErrOutboxFull)
		assert.ErrorContains(t, err, "8 bytes queued")
		_, err = c.Send(t.Context(), "12")
		assert.NoError(t, err, "exactly at the limit")
	})
	t.Run("Age", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c, err := New("ws://x/", Options{OutboxAge: time.Second})
			require.NoError(t, err)
			_, err = c.Send(t.Context(), "old")
			require.NoError(t, err)
			time.Sleep(time.Second)
			_, err = c.Send(t.Context(), "at the limit")
			require.NoError(t, err)
			time.Sleep(time.Millisecond)
			_, err = c.Send(t.Context(), "too late")
			assert.ErrorIs(t, err, ErrOutboxFull)
			assert.ErrorContains(t, err, "oldest message (seq 1) waiting")
		})
	})
}

// sessionServer scripts a resumable server per connection number.
type sessionLog struct {
	mu     sync.Mutex
	hellos []protocol.Envelope
	got    map[int][]uint64 // msg seqs received per connection
	acks   map[int][]uint64 // ack seqs received per connection
}

func (l *sessionLog) record(n int, e protocol.Envelope) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Type {
	case protocol.TypeHello:
		l.hellos = append(l.hellos, e)
	case protocol.TypeMsg:
		l.got[n] = append(l.got[n], e.Seq)
	case protocol.TypeAck:
		l.acks[n] = append(l.acks[n], e.Seq)
	}
}

func (l *sessionLog) snapshot() (hellos []protocol.Envelope, got, acks map[int][]uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(hellos, l.hellos...), l.got, l.acks
}

// scripted serves connection n with script(n, p, log) after recording the
// hello; the script returns when the connection should close (with 1012).
func scripted(t *testing.T, log *sessionLog, script func(n int, p *peer)) *testServer {
	return newTestServer(func(n int, w http.ResponseWriter, r *http.Request) {
		p := accept(t, w, r, true)
		if p == nil {
			return
		}
		log.record(n, p.hello())
		script(n, p)
		p.close(websocket.StatusServiceRestart, "restart")
	})
}

// readFor records what arrives on p for d.
func readFor(p *peer, n int, log *sessionLog, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e, ok := <-p.in:
			if !ok {
				return
			}
			log.record(n, e)
		case <-t.C:
			return
		}
	}
}

// Unacknowledged messages, and only those, are resent after a reconnect; the
// hello names the session and the last server sequence.
func TestOutboxResendUnackedOnly(t *testing.T) {
	for _, drop := range []bool{false, true} {
		name := "Resend"
		if drop {
			name = "QuirkDropOutboxOnReconnect"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &sessionLog{got: map[int][]uint64{}, acks: map[int][]uint64{}}
				ts := scripted(t, log, func(n int, p *peer) {
					switch n {
					case 1:
						p.send(protocol.Envelope{Type: protocol.TypeWelcome, Session: "s1"})
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: 1, Body: "a"})
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: 2, Body: "b"})
						readFor(p, n, log, 500*time.Millisecond)
						p.send(protocol.Envelope{Type: protocol.TypeAck, Seq: 1})
					case 2:
						// The server holds 2 as well (its ack was lost).
						p.send(protocol.Envelope{Type: protocol.TypeWelcome, Session: "s1", Resumed: true, Ack: 2, FromSeq: 3})
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: 3, Body: "c"})
						readFor(p, n, log, time.Hour)
					}
				})
				r := start(t, ts, quiet(Options{quirks: quirks.Set{DropOutboxOnReconnect: drop}}))
				for _, b := range []string{"one", "two", "three"} {
					_, err := r.c.Send(t.Context(), b)
					require.NoError(t, err)
				}
				time.Sleep(2 * time.Second)
				stopAndClose(t, r, ts)

				hellos, got, acks := log.snapshot()
				require.Len(t, hellos, 2)
				assert.Empty(t, hellos[0].Session)
				assert.Equal(t, "s1", hellos[1].Session)
				assert.Equal(t, uint64(2), hellos[1].LastSeq)
				assert.Equal(t, []uint64{1, 2, 3}, got[1])
				if drop {
					assert.Empty(t, got[2])
				} else {
					assert.Equal(t, []uint64{3}, got[2], "resent on the second connection")
				}
				assert.Equal(t, []uint64{2}, acks[1], "batched ack on the first connection")
				assert.Equal(t, []uint64{3}, acks[2])
				assert.Equal(t, []Message{{Seq: 1, Body: "a"}, {Seq: 2, Body: "b"}, {Seq: 3, Body: "c"}}, r.rec.messages())
				ready := r.rec.events(EventReady)
				require.Len(t, ready, 2)
				assert.True(t, ready[1].Resumed)
			})
		})
	}
}

// Inbound duplicates are dropped, a sequence jump is delivered and reported
// as a gap, and the cumulative ack comes AckDelay after the last message.
func TestInboundDuplicatesAndGap(t *testing.T) {
	for _, dup := range []bool{false, true} {
		name := "Dedup"
		if dup {
			name = "QuirkDeliverDuplicates"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &sessionLog{got: map[int][]uint64{}, acks: map[int][]uint64{}}
				var sentAt, ackAt time.Time
				ts := scripted(t, log, func(n int, p *peer) {
					p.welcome("s1")
					for _, seq := range []uint64{1, 2, 2, 3, 1, 7, 8} {
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "x"})
					}
					sentAt = time.Now()
					e, _ := p.next()
					ackAt = time.Now()
					log.record(n, e)
					readFor(p, n, log, time.Hour)
				})
				r := start(t, ts, quiet(Options{AckDelay: 30 * time.Millisecond, quirks: quirks.Set{DeliverDuplicates: dup}}))
				time.Sleep(time.Second)
				stopAndClose(t, r, ts)

				var seqs []uint64
				for _, m := range r.rec.messages() {
					seqs = append(seqs, m.Seq)
				}
				want := []uint64{1, 2, 3, 7, 8}
				if dup {
					want = []uint64{1, 2, 2, 3, 1, 7, 8}
				}
				assert.Equal(t, want, seqs)
				gaps := r.rec.events(EventGap)
				require.Len(t, gaps, 1)
				assert.Equal(t, uint64(3), gaps[0].Gap)
				_, _, acks := log.snapshot()
				assert.Equal(t, []uint64{8}, acks[1])
				assert.Equal(t, 30*time.Millisecond, ackAt.Sub(sentAt), "ack delay")
			})
		})
	}
}

// 64 messages are acknowledged at once, without waiting for AckDelay.
func TestAckBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &sessionLog{got: map[int][]uint64{}, acks: map[int][]uint64{}}
		ts := scripted(t, log, func(n int, p *peer) {
			p.welcome("s1")
			for seq := uint64(1); seq <= 100; seq++ {
				p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "x"})
			}
			readFor(p, n, log, time.Hour)
		})
		r := start(t, ts, quiet(Options{}))
		time.Sleep(time.Second)
		stopAndClose(t, r, ts)
		_, _, acks := log.snapshot()
		assert.Equal(t, []uint64{64, 100}, acks[1])
	})
}

// A server that forgot the session: the client reports "session lost" and
// follows the server's new numbering; a server that says how much it lost:
// the client reports that count.
func TestSessionLostGap(t *testing.T) {
	tests := []struct {
		name    string
		welcome protocol.Envelope
		quirks  quirks.Set
		gap     *Event
		hello   protocol.Envelope
	}{
		{
			name:    "SessionLost",
			welcome: protocol.Envelope{Type: protocol.TypeWelcome, Session: "s2", FromSeq: 1},
			gap:     &Event{Gap: 0, SessionLost: true},
			hello:   protocol.Envelope{Type: protocol.TypeHello, Session: "s1", LastSeq: 2},
		},
		{
			name:    "Counted",
			welcome: protocol.Envelope{Type: protocol.TypeWelcome, Session: "s1", FromSeq: 10, Gap: 7},
			gap:     &Event{Gap: 7},
			hello:   protocol.Envelope{Type: protocol.TypeHello, Session: "s1", LastSeq: 2},
		},
		{
			name:    "QuirkNoResume",
			welcome: protocol.Envelope{Type: protocol.TypeWelcome, Session: "s2", FromSeq: 1},
			quirks:  quirks.Set{NoResume: true},
			hello:   protocol.Envelope{Type: protocol.TypeHello},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &sessionLog{got: map[int][]uint64{}, acks: map[int][]uint64{}}
				ts := scripted(t, log, func(n int, p *peer) {
					switch n {
					case 1:
						p.welcome("s1")
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: 1, Body: "a"})
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: 2, Body: "b"})
						readFor(p, n, log, 100*time.Millisecond)
					default:
						p.send(tt.welcome)
						from := max(tt.welcome.FromSeq, 1)
						p.send(protocol.Envelope{Type: protocol.TypeMsg, Seq: from, Body: "new"})
						readFor(p, n, log, time.Hour)
					}
				})
				r := start(t, ts, quiet(Options{ClientID: "c1", quirks: tt.quirks}))
				time.Sleep(time.Second)
				stopAndClose(t, r, ts)

				hellos, _, _ := log.snapshot()
				require.Len(t, hellos, 2)
				assert.Equal(t, tt.hello.Session, hellos[1].Session)
				assert.Equal(t, tt.hello.LastSeq, hellos[1].LastSeq)
				gaps := r.rec.events(EventGap)
				if tt.gap == nil {
					assert.Empty(t, gaps)
				} else {
					require.Len(t, gaps, 1)
					assert.Equal(t, tt.gap.Gap, gaps[0].Gap)
					assert.Equal(t, tt.gap.SessionLost, gaps[0].SessionLost)
				}
				msgs := r.rec.messages()
				require.Len(t, msgs, 3)
				assert.Equal(t, Message{Seq: max(tt.welcome.FromSeq, 1), Body: "new"}, msgs[2])
			})
		})
	}
}
