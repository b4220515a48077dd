package reports

import (
	"fmt"
	"strings"

	"github.com/wschaos/wschaos/result"
)

// eventDrawer draws a timeline's events, one at a time, in time order.
type eventDrawer struct {
	tl    *timeline
	lanes *lanePlan
	// ping, pong and traffic collect the ticks of the frequent kinds as
	// one path each: thousands stay cheap.
	ping, pong, traffic strings.Builder
	// drawn holds the spots already marked: an event that lands on the
	// same spot of a lane as an earlier one of its class draws nothing
	// more, since a hot reconnect loop makes thousands.
	drawn                  map[spot]bool
	labelEnd               map[int]float64 // per lane, where the last label ends
	labelsUsed, titlesUsed int
	// open holds, per client lane, when its connection became ready.
	open      map[int]float64
	openOrder []int
}

type spot struct {
	lane  int
	class string
	col   int
}

func newEventDrawer(tl *timeline, lanes *lanePlan) *eventDrawer {
	return &eventDrawer{tl: tl, lanes: lanes, drawn: map[spot]bool{}, labelEnd: map[int]float64{}, open: map[int]float64{}}
}

func (d *eventDrawer) draw(e *result.Event) {
	li := d.lanes.of(e)
	px, cy := d.tl.x(e.TMS), d.tl.Lanes[li].MidY
	class := drawClass(e)
	wire := e.Via == result.ViaWire
	d.tl.Wire = d.tl.Wire || wire
	switch class {
	case mLink:
		return // drawLink draws the link lane
	case mPing, mPong, mTraffic:
		d.tick(li, class, px, cy)
		return
	}
	d.rail(li, e)
	// Every gap, undelivered batch and fatal end is drawn: they are rare
	// and each one matters.
	if class != mGap && class != mFatal && class != mUndelivered {
		key := spot{li, class, int(px)}
		if d.drawn[key] {
			d.tl.Merged++
			return
		}
		d.drawn[key] = true
	}
	m := mark{Class: class, Wire: wire, D: shape(class, px, cy), Title: d.title(e)}
	if class == mBackoff {
		d.backoff(li, e, px, cy, m.Title)
	}
	if label := markLabel(class, e); label != "" && d.addLabel(li, px, label) {
		m.Label, m.LX, m.LY = label, f1(px), f1(cy-8)
	}
	d.tl.Marks = append(d.tl.Marks, m)
}

// tick adds a ping, pong or traffic tick, once per half-pixel column.
func (d *eventDrawer) tick(li int, class string, px, cy float64) {
	key := spot{li, class, int(px * 2)}
	if d.drawn[key] {
		d.tl.Merged++
		return
	}
	d.drawn[key] = true
	switch class {
	case mPing:
		fmt.Fprintf(&d.ping, "M%s %sv6", f1(px), f1(cy-8))
	case mPong:
		fmt.Fprintf(&d.pong, "M%s %sv6", f1(px), f1(cy+2))
	default:
		fmt.Fprintf(&d.traffic, "M%s %sv4", f1(px), f1(cy-2))
	}
}

// rail draws a line along a client lane while its connection was usable:
// from ready to the end the client declared.
func (d *eventDrawer) rail(li int, e *result.Event) {
	if e.Source != result.SourceClient {
		return
	}
	switch e.Kind {
	case result.KindReady:
		// The folded lane mixes connections: no rail there.
		if d.tl.Folded > 0 && li == maxLanes-1 {
			return
		}
		if _, ok := d.open[li]; !ok {
			d.open[li] = e.TMS
			d.openOrder = append(d.openOrder, li)
		}
	case result.KindDisconnected, result.KindFatal, result.KindStopped, result.KindReturned:
		d.closeRail(li, e.TMS)
	}
}

func (d *eventDrawer) closeRail(li int, t float64) {
	start, ok := d.open[li]
	if !ok {
		return
	}
	delete(d.open, li)
	y := d.tl.Lanes[li].MidY
	d.tl.Rails = append(d.tl.Rails, segment{X1: f1(d.tl.x(start)), X2: f1(d.tl.x(t)), Y: f1(y)})
}

// backoff draws the delay a backoff event announced as a line from it.
func (d *eventDrawer) backoff(li int, e *result.Event, px, cy float64, title string) {
	if !(e.DelayMS > 0) || !finite(e.DelayMS) {
		return
	}
	seg := segment{X1: f1(px), X2: f1(d.tl.x(e.TMS + e.DelayMS)), Y: f1(cy + 3), Title: title}
	// With several clients a lane holds many connections: the delays
	// would crowd out the close codes.
	if text := fmt.Sprintf("%.0f ms", e.DelayMS); !d.lanes.multi && d.addLabel(li, px, text) {
		seg.Label = text
		seg.LX, seg.LY = f1(px+3), f1(cy-1)
	}
	d.tl.Backoffs = append(d.tl.Backoffs, seg)
}

// addLabel reserves room for text starting near px in lane li, or says
// there is none: labels never overlap, markers still show every event.
func (d *eventDrawer) addLabel(li int, px float64, text string) bool {
	if d.labelsUsed >= maxLabels {
		d.tl.LabelsCapped = true
		return false
	}
	if d.tl.Folded > 0 && li == maxLanes-1 {
		return false // the folded lane is a texture, not a story
	}
	w := charW * float64(len([]rune(text)))
	start := px - w/2 // the widest case: centred labels
	if end, ok := d.labelEnd[li]; ok && start < end+labelGap {
		d.tl.LabelsCapped = true
		return false
	}
	d.labelEnd[li] = px + w
	d.labelsUsed++
	return true
}

// title is the hover text of e, up to maxTitles of them per timeline.
func (d *eventDrawer) title(e *result.Event) string {
	if d.titlesUsed >= maxTitles {
		return ""
	}
	d.titlesUsed++
	return e.String() // which ends "(via wire)" for an event from the wire
}

// finish closes the rails still open at the end and stores the tick paths.
func (d *eventDrawer) finish() {
	for _, li := range d.openOrder {
		d.closeRail(li, d.tl.hi)
	}
	d.tl.PingPath, d.tl.PongPath, d.tl.TrafficPath = d.ping.String(), d.pong.String(), d.traffic.String()
}

// drawLink draws the packets the link dropped so far, both directions, as
// a step line in the link lane, from the counters its link-stats events
// carry. A packet too big for an MTU black hole is dropped too.
func (tl *timeline) drawLink(events []*result.Event, lanes *lanePlan) {
	var stats []*result.Event
	top := uint64(0)
	for _, e := range events {
		if e.Kind == result.KindLinkStats && e.Packets != nil {
			stats = append(stats, e)
			top = max(top, linkDropped(e.Packets.Up)+linkDropped(e.Packets.Down))
		}
	}
	if len(stats) == 0 {
		return
	}
	mid := tl.Lanes[lanes.of(stats[0])].MidY
	y := func(v uint64) float64 {
		if top == 0 {
			return mid + 7
		}
		return mid + 7 - float64(v)/float64(top)*14
	}
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", f1(tl.x(stats[0].TMS)), f1(y(0)))
	for _, e := range stats {
		fmt.Fprintf(&b, "H%sV%s", f1(tl.x(e.TMS)), f1(y(linkDropped(e.Packets.Up)+linkDropped(e.Packets.Down))))
	}
	last := stats[len(stats)-1].Packets
	up, down := linkDropped(last.Up), linkDropped(last.Down)
	l := &stepLine{D: b.String(), LY: f1(mid + 4),
		Label: fmt.Sprintf("%d dropped", up+down),
		Title: fmt.Sprintf("packets the link dropped so far (lost, and too big for its MTU): %d up, %d down", up, down)}
	l.LX = f1(min(tl.x(stats[len(stats)-1].TMS)+4, tlWidth-70))
	tl.Link = l
}

// linkDropped is what the link dropped in one direction: lost, and too big
// for an MTU black hole.
func linkDropped(p result.Packets) uint64 { return p.Dropped + p.TooBig }
