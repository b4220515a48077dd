package segment

import (
	"sync/atomic"
	"time"

	"github.com/wschaos/wschaos/result"
)

// Packets counts what the link did in one direction since the segment
// started. The fields are those of [result.Packets], plus QueueDropped.
type Packets struct {
	// Sent counts the packets the sending stack put on the link, whatever
	// became of them.
	Sent uint64
	// Dropped counts packets lost to Loss, Burst or Blackhole.
	Dropped uint64
	// Duplicated counts the extra copies delivered.
	Duplicated uint64
	// Reordered counts packets delivered after a packet that reached the
	// link later than they did, by Reorder or by Jitter.
	Reordered uint64
	// Corrupted counts packets delivered with a changed byte (the
	// receiving stack drops them: see its checksum errors).
	Corrupted uint64
	// TooBig counts packets dropped by MTUBlackhole.
	TooBig uint64
	// Retransmitted counts the TCP segments the sending stack sent again
	// (its TCP.Retransmits counter, over all its connections).
	Retransmitted uint64
	// QueueDropped counts packets the bandwidth cap's full queue dropped.
	QueueDropped uint64
}

// Stats counts both directions of the segment.
type Stats struct {
	Up   Packets // client to server
	Down Packets // server to client
}

// LinkPackets returns the counts in the result schema. result.Packets has no
// queue drops of its own: they are added to Dropped.
func (s Stats) LinkPackets() result.LinkPackets {
	return result.LinkPackets{Up: s.Up.result(), Down: s.Down.result()}
}

func (p Packets) result() result.Packets {
	return result.Packets{
		Sent:          p.Sent,
		Dropped:       p.Dropped + p.QueueDropped,
		Duplicated:    p.Duplicated,
		Reordered:     p.Reordered,
		Corrupted:     p.Corrupted,
		TooBig:        p.TooBig,
		Retransmitted: p.Retransmitted,
	}
}

// counters are a direction's live [Packets], written by its link
// goroutines and read by Stats at any time.
type counters struct {
	sent, dropped, duplicated, reordered, corrupted, tooBig, queueDropped atomic.Uint64
}

func (c *counters) load() Packets {
	return Packets{
		Sent:         c.sent.Load(),
		Dropped:      c.dropped.Load(),
		Duplicated:   c.duplicated.Load(),
		Reordered:    c.reordered.Load(),
		Corrupted:    c.corrupted.Load(),
		TooBig:       c.tooBig.Load(),
		QueueDropped: c.queueDropped.Load(),
	}
}

// Drop says why the link dropped a packet.
type Drop int

// The reasons, in the order the link checks them.
const (
	NotDropped Drop = iota
	DropBlackhole
	DropTooBig
	DropBurst
	DropLoss
	DropQueue
)

func (d Drop) String() string {
	switch d {
	case NotDropped:
		return "none"
	case DropBlackhole:
		return "blackhole"
	case DropTooBig:
		return "too-big"
	case DropBurst:
		return "burst"
	case DropLoss:
		return "loss"
	case DropQueue:
		return "queue"
	}
	return "drop(?)"
}

// Decision is what the link decided for one packet, for [Options.Trace].
type Decision struct {
	Dir Direction
	// Index numbers the packets of the direction in the order the link read
	// them, from 0. With the same seed, faults and packets, the same index
	// gets the same decision.
	Index uint64
	// Size is the packet's size in bytes, IP header included.
	Size int
	// Drop is why the packet was dropped, NotDropped if it was not.
	Drop Drop
	// Corrupted, Duplicated and Held (for Reorder) say what else was done.
	Corrupted, Duplicated, Held bool
	// Wait is how long after it was read the packet is due (queue, Delay,
	// Jitter); a held packet may go later.
	Wait time.Duration
}
