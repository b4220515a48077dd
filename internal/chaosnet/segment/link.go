package segment

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// link carries one direction's packets from the sending stack's channel
// endpoint to the receiving stack's, applying the direction's faults.
//
// Two goroutines run it. The reader takes every packet the sending stack
// writes, in order, decides its fate and either delivers it at once (no
// delay, nothing waiting) or puts it on the schedule. The deliverer
// delivers scheduled packets when they are due. Every delivery holds mu, so
// a packet delivered at once cannot overtake one the deliverer is
// delivering.
type link struct {
	dir      Direction
	from, to *channel.Endpoint
	faults   atomic.Pointer[Faults] // with defaults applied
	trace    func(Decision)
	count    counters
	retrans  *tcpip.StatCounter // the sending stack's TCP retransmissions

	// The reader goroutine's own.
	rng       *rand.Rand
	index     uint64    // the next packet's Decision.Index
	bad       bool      // the Gilbert-Elliott state
	busyUntil time.Time // when the bandwidth cap has sent what it holds

	wake chan struct{} // capacity 1: the schedule has a new first packet

	mu        sync.Mutex
	due       schedule // packets waiting for their time
	held      *pending // the packet Reorder holds, also on due
	seq       uint64   // the next packet's tie-break key
	delivered uint64   // 1 + the highest index delivered so far
}

// pending is a packet on the schedule.
type pending struct {
	v     *buffer.View
	index uint64
	at    time.Time // when it is due
	own   time.Time // when it would be due had Reorder not held it
	key   uint64    // orders packets due at the same time
	dup   bool
	slot  int // in the heap
}

// The seed's second word for each direction, so the two directions draw
// from independent streams of one seed.
var streams = [2]uint64{0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9}

func newLink(dir Direction, from, to *channel.Endpoint, seed uint64, f Faults, retrans *tcpip.StatCounter, trace func(Decision)) *link {
	l := &link{
		dir:     dir,
		from:    from,
		to:      to,
		trace:   trace,
		retrans: retrans,
		rng:     rand.New(rand.NewPCG(seed, streams[dir])),
		wake:    make(chan struct{}, 1),
	}
	f = f.withDefaults()
	l.faults.Store(&f)
	return l
}

func (l *link) packets() Packets {
	p := l.count.load()
	p.Retransmitted = l.retrans.Value()
	return p
}

// read is the reader goroutine. It returns when ctx ends or the sending
// stack's endpoint is closed.
func (l *link) read(ctx context.Context) {
	for {
		pkt := l.from.ReadContext(ctx)
		if pkt == nil {
			return
		}
		v := pkt.ToView() // our copy: Corrupt may change it
		pkt.DecRef()
		l.handle(v, time.Now())
	}
}

// draws are the random numbers of one packet. Every packet draws all of
// them, in this order, whatever faults are set, so the decision a fault
// makes for the i-th packet depends only on the seed and i: adding jitter
// does not change which packets a loss rate drops.
type draws struct {
	burstMove, burstLoss, loss, corrupt, jitter, duplicate, reorder float64
	corruptAt                                                       uint64
}

func (l *link) draw() draws {
	var d draws
	d.burstMove = l.rng.Float64()
	d.burstLoss = l.rng.Float64()
	d.loss = l.rng.Float64()
	d.corrupt = l.rng.Float64()
	d.corruptAt = l.rng.Uint64()
	d.jitter = l.rng.Float64()
	d.duplicate = l.rng.Float64()
	d.reorder = l.rng.Float64()
	return d
}

// handle decides the fate of one packet read at now.
func (l *link) handle(v *buffer.View, now time.Time) {
	f := l.faults.Load()
	d := l.draw()
	dec := Decision{Dir: l.dir, Index: l.index, Size: v.Size()}
	l.index++
	l.count.sent.Add(1)

	dec.Drop = l.lose(f, d, dec.Size)
	at := now
	if dec.Drop == NotDropped && f.Bandwidth > 0 {
		var ok bool
		if at, ok = l.enqueue(f, dec.Size, now); !ok {
			dec.Drop = DropQueue
		}
	}
	if dec.Drop != NotDropped {
		l.countDrop(dec.Drop)
		v.Release()
		l.report(dec)
		return
	}
	if d.corrupt < f.Corrupt && corrupt(v.AsSlice(), d.corruptAt) {
		dec.Corrupted = true
		l.count.corrupted.Add(1)
	}
	at = at.Add(f.delay(d.jitter))
	dec.Duplicated = d.duplicate < f.Duplicate
	dec.Held = d.reorder < f.Reorder
	dec.Wait = at.Sub(now)
	l.report(dec) // before scheduling: the trace shows decisions in index order
	l.schedule(&pending{v: v, index: dec.Index, at: at, dup: dec.Duplicated}, dec.Held, f.ReorderWait, now)
}

func (l *link) report(dec Decision) {
	if l.trace != nil {
		l.trace(dec)
	}
}

// lose says whether a packet of size bytes is lost, and why. The
// Gilbert-Elliott state moves once per packet, after the packet's loss is
// drawn in the state it met.
func (l *link) lose(f *Faults, d draws, size int) Drop {
	burst := false
	if b := f.Burst; b.ToBad > 0 {
		rate := b.LossGood
		if l.bad {
			rate = b.LossBad
		}
		burst = d.burstLoss < rate
		if l.bad {
			l.bad = d.burstMove >= b.ToGood
		} else {
			l.bad = d.burstMove < b.ToBad
		}
	} else {
		l.bad = false
	}
	switch {
	case f.Blackhole:
		return DropBlackhole
	case f.MTUBlackhole > 0 && size > f.MTUBlackhole:
		return DropTooBig
	case burst:
		return DropBurst
	case d.loss < f.Loss:
		return DropLoss
	}
	return NotDropped
}

func (l *link) countDrop(d Drop) {
	switch d {
	case DropTooBig:
		l.count.tooBig.Add(1)
	case DropQueue:
		l.count.queueDropped.Add(1)
	default:
		l.count.dropped.Add(1)
	}
}

// enqueue passes a packet of size bytes through the bandwidth cap: the cap
// sends one packet after another at its rate, so a packet is through when
// everything ahead of it and itself have been sent. It returns that time,
// or false when the bytes still waiting plus this packet exceed the queue.
func (l *link) enqueue(f *Faults, size int, now time.Time) (time.Time, bool) {
	start := l.busyUntil
	if start.Before(now) {
		start = now
	}
	backlog := start.Sub(now).Seconds() * float64(f.Bandwidth) // float: ns x bytes/s overflows int64
	if backlog+float64(size) > float64(f.QueueBytes) {
		return time.Time{}, false
	}
	l.busyUntil = start.Add(time.Duration(float64(size) / float64(f.Bandwidth) * float64(time.Second)))
	return l.busyUntil, true
}

// delay is Delay plus Jitter scaled by u in [0, 1), never negative.
func (f *Faults) delay(u float64) time.Duration {
	d := f.Delay
	if f.Jitter > 0 {
		d += time.Duration((2*u - 1) * float64(f.Jitter))
	}
	return max(d, 0)
}

// corrupt changes one byte of the IPv4 packet b past its header, chosen by
// r, and reports whether it did. It XORs a non-zero value, so the byte does
// change, and a change of one byte always changes a one's-complement
// checksum: the receiver's TCP checksum catches every corrupted packet.
func corrupt(b []byte, r uint64) bool {
	if len(b) < header.IPv4MinimumSize {
		return false
	}
	hl := int(b[0]&0xf) * 4
	if len(b) <= hl {
		return false
	}
	at := hl + int(r%uint64(len(b)-hl))
	b[at] ^= byte(1 + (r>>32)%255)
	return true
}

// schedule delivers p now, or puts it on the schedule. A packet that
// arrives while Reorder holds one releases the held packet right behind
// itself; a packet to hold waits up to wait for the next one.
func (l *link) schedule(p *pending, hold bool, wait time.Duration, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p.key = l.seq
	l.seq += 2 // odd keys are for held packets, right behind their follower
	if h := l.held; h != nil {
		l.held = nil
		h.at = h.own
		if h.at.Before(p.at) {
			h.at = p.at
		}
		h.key = p.key + 1
		heap.Fix(&l.due, h.slot)
	}
	if hold {
		p.own = p.at
		p.at = p.at.Add(wait)
		l.held = p
	} else if len(l.due) == 0 && !p.at.After(now) {
		l.deliver(p)
		return
	}
	heap.Push(&l.due, p)
	select { // the deliverer may be waiting for a later packet
	case l.wake <- struct{}{}:
	default:
	}
}

// run is the deliverer goroutine. It returns when ctx ends, dropping what
// is still scheduled.
func (l *link) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if next, ok := l.deliverDue(time.Now()); ok {
			t.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			l.mu.Lock()
			for _, p := range l.due {
				p.v.Release()
			}
			l.due, l.held = nil, nil
			l.mu.Unlock()
			return
		case <-l.wake:
		case <-t.C:
		}
	}
}

// deliverDue delivers every packet due by now and returns when the next one
// is due, if any is scheduled.
func (l *link) deliverDue(now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.due) > 0 && !l.due[0].at.After(now) {
		p := heap.Pop(&l.due).(*pending)
		if p == l.held { // its follower never came in time
			l.held = nil
		}
		l.deliver(p)
	}
	if len(l.due) == 0 {
		return time.Time{}, false
	}
	return l.due[0].at, true
}

// deliver injects p, and its copy for Duplicate, into the receiving stack.
// The stack queues it for its own TCP goroutines, so this does not block.
//
// Called with mu held.
func (l *link) deliver(p *pending) {
	if p.index+1 < l.delivered {
		l.count.reordered.Add(1)
	} else {
		l.delivered = p.index + 1
	}
	var dup *buffer.View
	if p.dup { // copied first: inject hands p.v to the stack
		dup = buffer.NewViewWithData(p.v.AsSlice())
	}
	l.inject(p.v)
	if dup != nil {
		l.inject(dup)
		l.count.duplicated.Add(1)
	}
}

func (l *link) inject(v *buffer.View) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithView(v)})
	l.to.InjectInbound(header.IPv4ProtocolNumber, pkt)
	pkt.DecRef()
}

// schedule is a heap of pending packets by due time, then key.
type schedule []*pending

func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	if s[i].at.Equal(s[j].at) {
		return s[i].key < s[j].key
	}
	return s[i].at.Before(s[j].at)
}
func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].slot, s[j].slot = i, j
}
func (s *schedule) Push(x any) {
	p := x.(*pending)
	p.slot = len(*s)
	*s = append(*s, p)
}
func (s *schedule) Pop() any {
	old := *s
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*s = old[:len(old)-1]
	return p
}
