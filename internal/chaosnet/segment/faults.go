package segment

import (
	"errors"
	"fmt"
	"time"
)

// Direction names one way through the segment.
type Direction int

// The two directions.
const (
	// Up carries packets from the client stack to the server stack.
	Up Direction = iota
	// Down carries packets from the server stack to the client stack.
	Down
)

func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

func (d Direction) valid() bool { return d == Up || d == Down }

// Faults are the packet faults of one direction. The zero value passes every
// packet untouched, at once and in order. The faults apply in this order:
// Blackhole, MTUBlackhole, Burst and Loss, the bandwidth cap, Corrupt, Delay
// and Jitter, Duplicate, Reorder.
type Faults struct {
	// Loss is the probability (0..1) that a packet is lost, drawn for every
	// packet independently. Default 0.
	Loss float64
	// Burst adds bursty loss (the Gilbert-Elliott model) on top of Loss.
	// Default off.
	Burst Burst
	// Delay holds every packet back this long. Default 0.
	Delay time.Duration
	// Jitter adds to Delay a uniform random offset in [-Jitter, +Jitter]
	// (never below zero in total), per packet. Packets are released by
	// their own time, so when the jitter exceeds the spacing of packets they
	// arrive in a new order, as they do on a real path. Default 0.
	Jitter time.Duration
	// Reorder is the probability (0..1) that a packet is held back and
	// delivered right behind the next packet that gets through. Default 0.
	Reorder float64
	// ReorderWait bounds how long a held packet waits for a next packet;
	// then it goes alone, late but in order. Default 10ms, several round
	// trips of the segment and short against TCP's 200ms minimum RTO.
	ReorderWait time.Duration
	// Duplicate is the probability (0..1) that a packet is delivered twice,
	// the copy right behind it. Default 0.
	Duplicate float64
	// Corrupt is the probability (0..1) that one byte of a packet past its
	// IPv4 header is changed. The receiving stack validates the TCP
	// checksum and drops the packet, as a kernel does. Default 0.
	Corrupt float64
	// Bandwidth caps the direction at this many bytes per second of IP
	// packets; packets wait in a queue to be sent in turn. Default 0, no cap.
	Bandwidth int64
	// QueueBytes bounds the bandwidth cap's queue; a packet that would
	// overflow it is dropped (tail drop). Default: what the cap sends in
	// 100ms, a common router buffer size, and at least 64 KiB.
	QueueBytes int64
	// MTUBlackhole, when not 0, drops every packet larger than this many
	// bytes (IP header included), silently, as a path with a broken
	// path-MTU discovery does. Default 0, off.
	MTUBlackhole int
	// Blackhole drops every packet. Default false.
	Blackhole bool
}

// Burst is the Gilbert-Elliott loss model: the direction is in a good or a
// bad state, each with its own loss rate, and changes state between packets
// with the given probabilities. The mean burst lasts 1/ToGood packets.
type Burst struct {
	// ToBad is the probability (0..1), per packet, that a good link turns
	// bad. Default 0: the model is off.
	ToBad float64
	// ToGood is the probability (0..1), per packet, that a bad link turns
	// good. Default 0, so set it with ToBad: a link that never recovers is
	// a Blackhole.
	ToGood float64
	// LossGood is the loss rate (0..1) in the good state. Default 0.
	LossGood float64
	// LossBad is the loss rate (0..1) in the bad state. Default 0 means 1,
	// Gilbert's original model: a bad link loses everything.
	LossBad float64
}

const (
	defaultReorderWait = 10 * time.Millisecond
	minQueueBytes      = 64 << 10
)

// Validate reports what is wrong with f, if anything: a probability
// outside 0..1, a negative duration or size. New and SetFaults refuse such
// faults; Validate lets a caller refuse them before it gets that far.
func (f Faults) Validate() error { return f.validate() }

func (f *Faults) validate() error {
	probs := []struct {
		name string
		v    float64
	}{
		{"loss", f.Loss}, {"reorder", f.Reorder}, {"duplicate", f.Duplicate}, {"corrupt", f.Corrupt},
		{"burst to-bad", f.Burst.ToBad}, {"burst to-good", f.Burst.ToGood},
		{"burst loss-good", f.Burst.LossGood}, {"burst loss-bad", f.Burst.LossBad},
	}
	for _, p := range probs {
		if !(p.v >= 0 && p.v <= 1) { // also refuses NaN
			return fmt.Errorf("segment: %s %v is not a probability in 0..1", p.name, p.v)
		}
	}
	if f.Delay < 0 || f.Jitter < 0 || f.ReorderWait < 0 {
		return errors.New("segment: delay, jitter and reorder wait must not be negative")
	}
	if f.Bandwidth < 0 || f.QueueBytes < 0 || f.MTUBlackhole < 0 {
		return errors.New("segment: bandwidth, queue bytes and MTU black hole must not be negative")
	}
	return nil
}

// withDefaults returns f with its zero fields that have a default set.
func (f Faults) withDefaults() Faults {
	if f.ReorderWait == 0 {
		f.ReorderWait = defaultReorderWait
	}
	if f.Bandwidth > 0 && f.QueueBytes == 0 {
		f.QueueBytes = max(f.Bandwidth/10, minQueueBytes)
	}
	if f.Burst.ToBad > 0 && f.Burst.LossBad == 0 {
		f.Burst.LossBad = 1
	}
	return f
}
