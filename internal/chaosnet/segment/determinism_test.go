package segment

import (
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replay is what one lossy run showed of the up direction.
type replay struct {
	sent    int      // packets the link read
	dropped []uint64 // indices of the dropped ones
}

// lossyRun sends a fixed conversation through a segment with 5% loss up
// and returns what the link did with the up direction's packets.
//
// The conversation is lock-step, one 512-byte message and its echo at a
// time, so the packets the client stack sends are the same on every run:
// each message, one ACK per echo, and one retransmission for each time the
// link drops a message (only a timer resends it, and nothing else is in
// flight). Loss is on the up direction only: with both directions lossy, a
// round that loses both the server's ACK and its echo has the client's and
// the server's retransmission timers firing within microseconds of each
// other, and which fires first is up to the scheduler, not the seed.
func lossyRun(t *testing.T, seed uint64) replay {
	up := newServer(t, echo)
	var mu sync.Mutex
	var r replay
	s := newSegment(t, up.Addr(), Options{Seed: seed, Trace: func(d Decision) {
		if d.Dir != Up {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		r.sent++
		if d.Drop != NotDropped {
			r.dropped = append(r.dropped, d.Index)
		}
	}})
	// drained waits until the link has read every packet the stacks sent:
	// after an echo has been read, the client's ACK for it is on the link
	// already (gvisor sends it before the reader gets the data).
	drained := func() {
		waitFor(t, "link drained", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return uint64(r.sent) == s.client.Stats().TCP.SegmentsSent.Value() &&
				s.Stats().Down.Sent == s.server.Stats().TCP.SegmentsSent.Value()
		})
	}

	c := dialSegment(t, s)
	msg := payload(512, seed)
	roundTrip(t, c, msg) // the handshake, clean: see below
	drained()
	// Loss starts on an established connection: a lost SYN-ACK would have
	// both ends retransmitting after 1s, racing as above.
	require.NoError(t, s.SetFaults(Up, Faults{Loss: 0.05}))
	for range 60 {
		roundTrip(t, c, msg)
	}
	drained()
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, s.Stats().Down.Dropped)
	return replay{sent: r.sent, dropped: slices.Clone(r.dropped)}
}

func TestSeedReplays(t *testing.T) {
	a := lossyRun(t, 42)
	b := lossyRun(t, 42)
	c := lossyRun(t, 43)
	t.Logf("seed 42: %d packets, dropped %v", a.sent, a.dropped)
	t.Logf("seed 42: %d packets, dropped %v", b.sent, b.dropped)
	t.Logf("seed 43: %d packets, dropped %v", c.sent, c.dropped)

	require.NotEmpty(t, a.dropped, "5%% of %d packets: some must drop", a.sent)
	assert.Equal(t, a, b, "the same seed and traffic drop the same packets")
	assert.False(t, len(a.dropped) == len(c.dropped) && slices.Equal(a.dropped, c.dropped),
		"another seed drops another count or set")
}
