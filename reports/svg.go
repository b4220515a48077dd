package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Timeline geometry, in SVG user units (the page scales the drawing to its
// width; 1160 fits a 1280 px window with margins).
const (
	tlWidth     = 1160.0
	tlPlotX0    = 168.0 // lane labels live left of this
	tlPlotX1    = tlWidth - 24
	tlTop       = 8.0  // fault labels row
	tlBudgetRow = 22.0 // height of each budget row
	tlLaneH     = 24.0
	tlAxisH     = 40.0
	maxLanes    = 16  // client lanes beyond this fold into one
	maxLabels   = 160 // text labels per timeline
	labelGap    = 6.0 // min space between labels in one lane
	charW       = 6.0 // rough width of one character of a 10-11px label
	maxTitles   = 400 // hover titles per timeline: they are most of the bytes
)

type timeline struct {
	W, H         float64
	PlotX0       float64
	PlotX1       float64
	PlotTop      float64 // y of the first lane
	PlotBottom   float64 // y below the last lane
	Lanes        []lane
	Ticks        []tick
	Faults       []band
	Budgets      []budget
	Marks        []mark
	Backoffs     []segment
	Rails        []segment
	PingPath     string // every ping tick as one path: thousands stay cheap
	PongPath     string
	TrafficPath  string
	AxisY        float64
	AxisLabelY   float64
	AxisTitleX   float64
	AxisTitleY   float64
	Folded       int // client lanes folded into the last one
	LabelsCapped bool
	Merged       int // events drawn on top of an earlier one, not again
	// lo and hi are the time domain, so other charts can share the axis.
	lo, hi float64
}

type lane struct {
	Label   string
	Title   string
	Y, MidY float64
	Odd     bool
}

type tick struct {
	X     string
	Label string
}

type band struct {
	X, W, Y, H string
	LabelX     string
	LabelY     string
	Label      string
	Title      string
	Instant    bool
	ShowLabel  bool
}

type budget struct {
	Class            string // "ok" or "over"
	Name             string
	X0, X1, Y        string
	TickTop, TickBot string
	MarkX            string // the measured moment, "" if none
	LineTop, LineBot string
	Label            string
	LabelX, LabelY   string
	Anchor           string // text-anchor, "" for start
	Title            string
}

type mark struct {
	Class  string
	D      string // path data of the marker shape
	Label  string
	LX, LY string
	Title  string
}

type segment struct {
	X1, X2, Y string
	Label     string
	LX, LY    string
	Title     string
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

type laneKey struct {
	source, client string
	conn           uint64
}

func sourceRank(s string) int {
	switch s {
	case "client":
		return 0
	case "server":
		return 1
	case "tap":
		return 2
	case "harness":
		return 3
	}
	return 4
}

// laneOf puts every source but the client in one lane each. Client events
// get a lane per connection when one client ran, so each connection's life
// reads on its own line, and a lane per client when several ran (a herd of
// 50 would not fit otherwise).
func laneOf(e *Event, multiClient bool) laneKey {
	switch {
	case e.Source != "client":
		return laneKey{source: e.Source}
	case multiClient:
		return laneKey{"client", e.Client, 0}
	}
	return laneKey{"client", e.Client, e.Conn}
}

func (k laneKey) label(multiClient bool) string {
	if k.source != "client" {
		if k.source == "" {
			return "(no source)"
		}
		return k.source
	}
	name := "client"
	if multiClient && k.client != "" {
		name = k.client
	}
	if k.conn == 0 {
		return name
	}
	return name + " · conn " + strconv.FormatUint(k.conn, 10)
}

// markKind sorts an event kind into how it is drawn.
func markKind(kind string) string {
	k := strings.ToLower(kind)
	switch {
	case k == "ping" || k == "ping_sent" || k == "ping_received" || k == "ping_recv":
		return "ping"
	case k == "pong" || k == "pong_received" || k == "pong_recv" || k == "pong_sent":
		return "pong"
	case k == "dialing" || k == "dial" || k == "connecting":
		return "dialing"
	case k == "ready" || k == "connected" || k == "open" || k == "accept" || k == "accepted" || k == "welcome":
		return "ready"
	case k == "disconnected" || k == "closed" || k == "close" || k == "dead" || k == "reject":
		return "disconnected"
	case k == "backoff":
		return "backoff"
	case k == "gap":
		return "gap"
	case k == "fatal":
		return "fatal"
	case strings.HasPrefix(k, "fault"):
		return "fault"
	case k == "sent" || k == "received" || k == "send" || k == "recv" || k == "echo" || k == "dup" ||
		k == "drop" || k == "raw" || k == "stdout" || k == "stderr" ||
		strings.Contains(k, "msg") || strings.Contains(k, "ack") || strings.Contains(k, "deliver"):
		// Workload and output lines come by the thousand: ticks, not markers.
		return "traffic"
	}
	return "other"
}

func eventTitle(e *Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · %s", fmtMS(e.TMS), e.Kind)
	if e.Source != "" {
		fmt.Fprintf(&b, " · %s", e.Source)
	}
	if e.Client != "" {
		fmt.Fprintf(&b, " %s", e.Client)
	}
	if e.Conn != 0 {
		fmt.Fprintf(&b, " conn %d", e.Conn)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " · code %d", e.Code)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " · %q", e.Reason)
	}
	if e.Attempt != 0 {
		fmt.Fprintf(&b, " · attempt %d", e.Attempt)
	}
	if e.DelayMS != 0 {
		fmt.Fprintf(&b, " · delay %s", fmtMS(e.DelayMS))
	}
	if e.Seq != 0 {
		fmt.Fprintf(&b, " · seq %d", e.Seq)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " · %s", e.Detail)
	}
	return b.String()
}

// moments works out when detection and recovery happened on the timeline
// and from which instant each was measured. Measured.DetectedAtMS and
// RecoveredAtMS say so directly; without them detection counts from the
// first fault's start and recovery from the last fault's end.
//
// A stress run has none: its measured figures are the worst over many
// faults and clients, and its targets are per fault, drawn in its stress
// figures instead.
func moments(s *Scenario) (detectFrom, detectAt, recoverFrom, recoverAt *float64) {
	if s.Stress != nil || len(s.Faults) == 0 && s.Measured.DetectedAtMS == nil && s.Measured.RecoveredAtMS == nil {
		return
	}
	var firstStart, lastEnd *float64
	for i := range s.Faults {
		f := &s.Faults[i]
		if !finite(f.StartMS) || !finite(f.EndMS) {
			continue
		}
		if firstStart == nil || f.StartMS < *firstStart {
			firstStart = &f.StartMS
		}
		if lastEnd == nil || f.EndMS > *lastEnd {
			lastEnd = &f.EndMS
		}
	}
	pair := func(at, rel, ref *float64) (from, when *float64) {
		switch {
		case at != nil && rel != nil:
			v := *at - *rel
			return &v, at
		case at != nil:
			return ref, at
		case rel != nil && ref != nil:
			v := *ref + *rel
			return ref, &v
		}
		return ref, nil
	}
	m := &s.Measured
	detectFrom, detectAt = pair(m.DetectedAtMS, m.DetectMS, firstStart)
	recoverFrom, recoverAt = pair(m.RecoveredAtMS, m.RecoverMS, lastEnd)
	return
}

func targetLimit(s *Scenario, name string) (float64, bool) {
	for _, t := range s.Targets {
		if strings.EqualFold(t.Name, name) && finite(t.Limit) {
			return t.Limit, true
		}
	}
	return 0, false
}

// niceStep returns a 1-2-5 step that cuts span into about n intervals.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	if !(raw > 0) || !finite(raw) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func buildTimeline(s *Scenario) *timeline {
	events := make([]*Event, 0, len(s.Timeline))
	for i := range s.Timeline {
		if finite(s.Timeline[i].TMS) {
			events = append(events, &s.Timeline[i])
		}
	}
	if len(events) == 0 && len(s.Faults) == 0 {
		return nil
	}
	slices.SortStableFunc(events, func(a, b *Event) int { return cmp.Compare(a.TMS, b.TMS) })

	// Time domain: everything drawn must fit.
	lo, hi := 0.0, 0.0
	// Absurd times (decades) are clamped, so the axis arithmetic stays exact.
	const far = 1e12
	grow := func(v float64) {
		if finite(v) {
			v = max(-far, min(far, v))
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	for _, e := range events {
		grow(e.TMS)
		if markKind(e.Kind) == "backoff" && e.DelayMS > 0 {
			grow(e.TMS + e.DelayMS)
		}
	}
	for _, f := range s.Faults {
		grow(f.StartMS)
		grow(f.EndMS)
	}
	detectFrom, detectAt, recoverFrom, recoverAt := moments(s)
	detectLimit, hasDetect := targetLimit(s, "detect")
	recoverLimit, hasRecover := targetLimit(s, "recover")
	for _, p := range []*float64{detectFrom, detectAt, recoverFrom, recoverAt} {
		if p != nil {
			grow(*p)
		}
	}
	if hasDetect && detectFrom != nil {
		grow(*detectFrom + detectLimit)
	}
	if hasRecover && recoverFrom != nil {
		grow(*recoverFrom + recoverLimit)
	}
	if hi-lo < 1 {
		hi = lo + 1
	}
	step := niceStep(hi-lo, 10)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	plotW := tlPlotX1 - tlPlotX0
	x := func(t float64) float64 {
		t = max(-far, min(far, t))
		v := tlPlotX0 + (t-lo)/(hi-lo)*plotW
		return max(tlPlotX0-2, min(tlPlotX1+2, v))
	}

	// Lanes, in a fixed order: client connections, then server, tap,
	// harness and anything else.
	seen := map[laneKey]bool{}
	var keys []laneKey
	clients := map[string]bool{}
	for _, e := range events {
		if e.Source == "client" {
			clients[e.Client] = true
		}
	}
	multi := len(clients) > 1
	for _, e := range events {
		k := laneOf(e, multi)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b laneKey) int {
		return cmp.Or(cmp.Compare(sourceRank(a.source), sourceRank(b.source)),
			cmp.Compare(a.source, b.source), naturalCompare(a.client, b.client), cmp.Compare(a.conn, b.conn))
	})
	tl := &timeline{W: tlWidth, PlotX0: tlPlotX0, PlotX1: tlPlotX1, lo: lo, hi: hi}
	laneIndex := map[laneKey]int{}
	nClient := 0
	for _, k := range keys {
		if k.source == "client" {
			nClient++
		}
	}
	for i, k := range keys {
		laneIndex[k] = i
	}
	// Client lanes sort first; past maxLanes-1 of them they share the last
	// client lane and the other sources move up.
	var labels []string
	if nClient > maxLanes {
		tl.Folded = nClient - (maxLanes - 1)
		for _, k := range keys {
			i := laneIndex[k]
			switch {
			case k.source == "client" && i >= maxLanes-1:
				laneIndex[k] = maxLanes - 1
			case k.source != "client":
				laneIndex[k] = i - tl.Folded + 1
			}
		}
	}
	for _, k := range keys {
		i := laneIndex[k]
		for len(labels) <= i {
			labels = append(labels, "")
		}
		if labels[i] == "" {
			labels[i] = k.label(multi)
		}
	}
	if tl.Folded > 0 {
		what := "conns"
		if multi {
			what = "clients"
		}
		labels[maxLanes-1] = fmt.Sprintf("%d more %s", tl.Folded, what)
	}

	nBudgets := 0
	if detectFrom != nil && (hasDetect || detectAt != nil) {
		nBudgets++
	}
	if recoverFrom != nil && (hasRecover || recoverAt != nil) {
		nBudgets++
	}
	tl.PlotTop = tlTop + 26 + float64(nBudgets)*tlBudgetRow
	for i, l := range labels {
		y := tl.PlotTop + float64(i)*tlLaneH
		tl.Lanes = append(tl.Lanes, lane{Label: clip(l, 22), Title: l, Y: y, MidY: y + tlLaneH/2, Odd: i%2 == 1})
	}
	tl.PlotBottom = tl.PlotTop + float64(max(1, len(labels)))*tlLaneH
	tl.AxisY = tl.PlotBottom
	tl.AxisLabelY = tl.PlotBottom + 16
	tl.AxisTitleX = tlPlotX1
	tl.AxisTitleY = tl.PlotBottom + 34
	tl.H = tl.PlotBottom + tlAxisH

	for i := 0; i <= 40; i++ {
		t := lo + float64(i)*step
		if t > hi+step/2 {
			break
		}
		tl.Ticks = append(tl.Ticks, tick{X: f1(x(t)), Label: num(t)})
	}

	// Fault windows: a band across every lane, labelled when there is room.
	lastLabelEnd := -1e9
	for _, f := range s.Faults {
		if !finite(f.StartMS) || !finite(f.EndMS) {
			continue
		}
		x0, x1 := x(min(f.StartMS, f.EndMS)), x(max(f.StartMS, f.EndMS))
		b := band{
			X: f1(x0), W: f1(max(x1-x0, 0)), Y: f1(tlTop + 12), H: f1(tl.PlotBottom - tlTop - 12),
			LabelX: f1(x0 + 3), LabelY: f1(tlTop + 9), Label: clip(f.Kind, 28),
			Instant: x1-x0 < 1.5,
		}
		if b.Instant {
			b.Title = fmt.Sprintf("%s at %s", f.Kind, fmtMS(f.StartMS))
		} else {
			b.Title = fmt.Sprintf("%s %s → %s", f.Kind, fmtMS(f.StartMS), fmtMS(f.EndMS))
		}
		if f.Detail != "" {
			b.Title += " · " + f.Detail
		}
		if x0 >= lastLabelEnd {
			b.ShowLabel = true
			lastLabelEnd = x0 + 7*float64(len([]rune(b.Label))) + 12
		}
		tl.Faults = append(tl.Faults, b)
	}

	// Budgets: a bracket from the fault edge to the edge plus the target's
	// limit, and a line where the moment actually fell.
	row := 0
	addBudget := func(name string, from, at *float64, limit float64, has bool) {
		if from == nil || (!has && at == nil) {
			return
		}
		y := tlTop + 18 + float64(row)*tlBudgetRow + 14
		row++
		b := budget{Name: name, Class: "ok", Y: f1(y), TickTop: f1(y - 4), TickBot: f1(y + 4),
			X0: f1(x(*from)), LabelY: f1(y - 5), LineTop: f1(y), LineBot: f1(tl.PlotBottom)}
		end := *from
		if has {
			end = *from + limit
		}
		b.X1 = f1(x(end))
		var label string
		switch {
		case at != nil && has:
			got := *at - *from
			label = fmt.Sprintf("%s %s of %s budget", name, fmtMS(got), fmtMS(limit))
			if got > limit {
				b.Class = "over"
				label = fmt.Sprintf("%s %s, over its %s budget by %s", name, fmtMS(got), fmtMS(limit), fmtMS(got-limit))
			}
		case at != nil:
			label = fmt.Sprintf("%s %s (no target)", name, fmtMS(*at-*from))
		default:
			b.Class = "over"
			label = fmt.Sprintf("%s budget %s: never happened", name, fmtMS(limit))
		}
		if at != nil {
			b.MarkX = f1(x(*at))
		}
		b.Label = label
		b.Title = label
		// Keep the label inside the drawing: start at the bracket, or end at
		// the right edge when it would run off.
		lx := x(*from) + 4
		if lx+7*float64(len([]rune(label))) > tlWidth-4 {
			// Would run off the right edge: end it there instead.
			lx, b.Anchor = tlWidth-4, "end"
		}
		b.LabelX = f1(lx)
		tl.Budgets = append(tl.Budgets, b)
	}
	addBudget("detect", detectFrom, detectAt, detectLimit, hasDetect)
	addBudget("recover", recoverFrom, recoverAt, recoverLimit, hasRecover)

	// Connection rails: a line on each client connection lane while it was up.
	open := map[int]float64{}
	var openOrder []int
	closeRail := func(li int, t float64) {
		start, ok := open[li]
		if !ok {
			return
		}
		delete(open, li)
		y := tl.Lanes[li].MidY
		tl.Rails = append(tl.Rails, segment{X1: f1(x(start)), X2: f1(x(t)), Y: f1(y)})
	}

	// Events.
	var ping, pong, traffic strings.Builder
	// Events that land on the same spot of a lane as an earlier one of the
	// same kind draw nothing more: a hot reconnect loop makes thousands.
	type spot struct {
		lane int
		kind string
		col  int
	}
	drawn := map[spot]bool{}
	labelEnd := map[int]float64{} // per lane, where the last label ends
	labelsUsed, titlesUsed := 0, 0
	// addLabel reserves room for text starting near px in lane li, or says
	// there is none: labels never overlap, markers still show every event.
	addLabel := func(li int, px float64, text string) bool {
		if labelsUsed >= maxLabels {
			tl.LabelsCapped = true
			return false
		}
		if tl.Folded > 0 && li == maxLanes-1 {
			return false // the folded lane is a texture, not a story
		}
		w := charW * float64(len([]rune(text)))
		start := px - w/2 // the widest case: centred labels
		if end, ok := labelEnd[li]; ok && start < end+labelGap {
			tl.LabelsCapped = true
			return false
		}
		labelEnd[li] = px + w
		labelsUsed++
		return true
	}
	title := func(e *Event) string {
		if titlesUsed >= maxTitles {
			return ""
		}
		titlesUsed++
		return eventTitle(e)
	}
	for _, e := range events {
		li := laneIndex[laneOf(e, multi)]
		ln := tl.Lanes[li]
		px, cy := x(e.TMS), ln.MidY
		kind := markKind(e.Kind)
		switch kind {
		case "ping", "pong", "traffic":
			key := spot{li, kind, int(px * 2)} // half-pixel columns
			if drawn[key] {
				tl.Merged++
				continue
			}
			drawn[key] = true
			switch kind {
			case "ping":
				fmt.Fprintf(&ping, "M%s %sv6", f1(px), f1(cy-8))
			case "pong":
				fmt.Fprintf(&pong, "M%s %sv6", f1(px), f1(cy+2))
			default:
				fmt.Fprintf(&traffic, "M%s %sv4", f1(px), f1(cy-2))
			}
			continue
		case "ready":
			// The folded lane mixes connections: no rail there.
			if e.Source == "client" && (tl.Folded == 0 || li != maxLanes-1) {
				if _, ok := open[li]; !ok {
					open[li] = e.TMS
					openOrder = append(openOrder, li)
				}
			}
		case "disconnected", "fatal":
			closeRail(li, e.TMS)
		}
		if kind != "gap" && kind != "fatal" {
			key := spot{li, kind, int(px)}
			if drawn[key] {
				tl.Merged++
				continue
			}
			drawn[key] = true
		}
		m := mark{Class: kind, D: shape(kind, px, cy), Title: title(e)}
		var label string
		switch kind {
		case "disconnected":
			if e.Code != 0 {
				label = strconv.Itoa(e.Code)
			}
		case "gap":
			label = "gap"
		case "fatal":
			label = "fatal"
			if e.Code != 0 {
				label += " " + strconv.Itoa(e.Code)
			}
		case "backoff":
			if e.DelayMS > 0 && finite(e.DelayMS) {
				seg := segment{X1: f1(px), X2: f1(x(e.TMS + e.DelayMS)), Y: f1(cy + 3), Title: m.Title}
				// With several clients a lane holds many connections: the
				// delays would crowd out the close codes.
				if text := fmt.Sprintf("%.0f ms", e.DelayMS); !multi && addLabel(li, px, text) {
					seg.Label = text
					seg.LX, seg.LY = f1(px+3), f1(cy-1)
				}
				tl.Backoffs = append(tl.Backoffs, seg)
				m.D = shape("backoff", px, cy)
			}
		}
		if label != "" && addLabel(li, px, label) {
			m.Label, m.LX, m.LY = label, f1(px), f1(cy-8)
		}
		tl.Marks = append(tl.Marks, m)
	}
	for _, li := range openOrder {
		closeRail(li, hi)
	}
	tl.PingPath, tl.PongPath, tl.TrafficPath = ping.String(), pong.String(), traffic.String()
	return tl
}

// shape returns the path of the marker drawn for kind at (x, y).
func shape(kind string, x, y float64) string {
	X, Y := f1(x), f1(y)
	switch kind {
	case "dialing", "ready":
		// A circle of radius 4 as two arcs.
		return fmt.Sprintf("M%s %sa4 4 0 1 0 8 0a4 4 0 1 0 -8 0", f1(x-4), Y)
	case "disconnected":
		return fmt.Sprintf("M%s %sl8 8M%s %sl-8 8", f1(x-4), f1(y-4), f1(x+4), f1(y-4))
	case "gap":
		return fmt.Sprintf("M%s %sl5 5l-5 5l-5 -5z", X, f1(y-5))
	case "fatal":
		return fmt.Sprintf("M%s %sl5 9h-10z", X, f1(y-5))
	case "backoff":
		return fmt.Sprintf("M%s %sv10", X, f1(y-5))
	case "fault":
		return fmt.Sprintf("M%s %sv12", X, f1(y-6))
	}
	return fmt.Sprintf("M%s %sa3 3 0 1 0 6 0a3 3 0 1 0 -6 0", f1(x-3), Y)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// naturalCompare orders strings with their digit runs compared as numbers,
// so client c2 comes before c10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), cmp.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
