package segment

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
)

// These tests drive a link's decisions directly, with synthetic packets
// and no stacks (the receiving endpoint has none attached, so deliveries
// go nowhere): the statistics of the faults need far more packets than a
// TCP test sends.

// testLink returns a link that records its decisions.
func testLink(seed uint64, f Faults) (*link, *[]Decision) {
	var decs []Decision
	l := newLink(Up, channel.New(1, defaultMTU, ""), channel.New(1, defaultMTU, ""), seed, f, nil,
		func(d Decision) { decs = append(decs, d) })
	return l, &decs
}

// packet is an IPv4 packet of size bytes: a 20-byte header, then zeros.
func packet(size int) *buffer.View {
	b := make([]byte, size)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(size))
	return buffer.NewViewWithData(b)
}

// drain delivers everything scheduled.
func (l *link) drain() { l.deliverDue(time.Now().Add(24 * time.Hour)) }

func dropped(decs []Decision) []uint64 {
	var idx []uint64
	for _, d := range decs {
		if d.Drop != NotDropped {
			idx = append(idx, d.Index)
		}
	}
	return idx
}

func TestLossDrawsDoNotDependOnOtherFaults(t *testing.T) {
	run := func(f Faults) []uint64 {
		l, decs := testLink(5, f)
		now := time.Now()
		for range 2000 {
			l.handle(packet(100), now)
		}
		l.drain()
		return dropped(*decs)
	}
	plain := run(Faults{Loss: 0.05})
	assert.InDelta(t, 100, len(plain), 40, "5%% of 2000")
	assert.Equal(t, plain, run(Faults{Loss: 0.05, Jitter: time.Millisecond, Duplicate: 0.3, Corrupt: 0.2}),
		"the same packets are lost whatever else the link does")
}

func TestBurstLoss(t *testing.T) {
	const n = 200_000
	b := Burst{ToBad: 0.02, ToGood: 0.25} // LossBad defaults to 1
	l, decs := testLink(9, Faults{Burst: b})
	now := time.Now()
	for range n {
		l.handle(packet(60), now)
	}
	l.drain()

	var lost, bursts int
	prev := false
	for _, d := range *decs {
		isLost := d.Drop == DropBurst
		if isLost {
			lost++
			if !prev {
				bursts++
			}
		}
		prev = isLost
	}
	// The chain spends ToBad/(ToBad+ToGood) of the packets in the bad
	// state, and a bad spell lasts 1/ToGood packets on average.
	wantRate := b.ToBad / (b.ToBad + b.ToGood)
	assert.InDelta(t, wantRate, float64(lost)/n, wantRate*0.1)
	assert.InDelta(t, 1/b.ToGood, float64(lost)/float64(bursts), 0.1/b.ToGood)
}

func TestCorruptChangesOneByteAfterTheHeader(t *testing.T) {
	for r := range uint64(500) {
		r *= 0x9e3779b97f4a7c15
		v := packet(80)
		orig := append([]byte(nil), v.AsSlice()...)
		require.True(t, corrupt(v.AsSlice(), r))
		changed := 0
		for i, c := range v.AsSlice() {
			if c != orig[i] {
				changed++
				assert.GreaterOrEqual(t, i, 20, "the IPv4 header is left alone")
			}
		}
		assert.Equal(t, 1, changed)
	}
	assert.False(t, corrupt(packet(20).AsSlice(), 1), "nothing past the header")
}

func TestBandwidthQueue(t *testing.T) {
	const rate = 100_000 // bytes/s: a 1000-byte packet takes 10ms
	f := Faults{Bandwidth: rate, QueueBytes: 3000}
	l, decs := testLink(1, f)
	now := time.Now()
	for range 5 { // at once: the queue holds three
		l.handle(packet(1000), now)
	}
	l.drain()
	var waits []time.Duration
	for _, d := range *decs {
		if d.Drop == NotDropped {
			waits = append(waits, d.Wait)
		} else {
			assert.Equal(t, DropQueue, d.Drop)
		}
	}
	assert.Equal(t, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}, waits)
	assert.Equal(t, uint64(2), l.count.queueDropped.Load())

	// Once the queue has drained, packets go again at the rate.
	l.handle(packet(1000), now.Add(time.Second))
	l.drain()
	assert.Equal(t, 10*time.Millisecond, (*decs)[len(*decs)-1].Wait)
	assert.Equal(t, int64(minQueueBytes), Faults{Bandwidth: rate}.withDefaults().QueueBytes, "default queue")
}

func TestReorderHoldsBehindTheNext(t *testing.T) {
	l, _ := testLink(1, Faults{})
	now := time.Now()
	later := now.Add(time.Hour) // nothing is due: the order is the schedule's
	first := &pending{v: packet(40), index: 0, at: later}
	l.schedule(first, true, time.Minute, now)
	second := &pending{v: packet(40), index: 1, at: later}
	l.schedule(second, false, 0, now)
	require.Len(t, l.due, 2)
	assert.Same(t, second, l.due[0], "the next packet goes first")
	assert.Equal(t, later, first.at, "the held one right behind it, not after the wait")
	assert.Nil(t, l.held)

	l.deliverDue(later)
	assert.Equal(t, uint64(1), l.count.reordered.Load())
	assert.Empty(t, l.due)
}

func TestReorderWaitsAtMostReorderWait(t *testing.T) {
	l, _ := testLink(1, Faults{})
	now := time.Now()
	p := &pending{v: packet(40), at: now}
	l.schedule(p, true, 10*time.Millisecond, now)
	next, ok := l.deliverDue(now)
	require.True(t, ok)
	assert.Equal(t, now.Add(10*time.Millisecond), next)
	l.deliverDue(next)
	assert.Empty(t, l.due)
	assert.Nil(t, l.held)
	assert.Zero(t, l.count.reordered.Load(), "alone, it was late, not out of order")
}
