package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/wschaos/wschaos/result"
)

// laneKey names a timeline lane: one per source, except the client's.
type laneKey struct {
	source result.Source
	client string
	conn   uint64
}

// lanePlan is the timeline's lanes: which lane each key is drawn in, and
// each lane's label.
type lanePlan struct {
	index  map[laneKey]int
	labels []string
	// folded counts client lanes folded into the last client lane.
	folded int
	multi  bool
}

func (p *lanePlan) of(e *result.Event) int { return p.index[laneOf(e, p.multi)] }

// laneOf puts every source but the client in one lane each. Client events
// get a lane per connection when one client ran, so each connection's life
// reads on its own line, and a lane per client when several ran (a herd of
// 50 would not fit otherwise).
func laneOf(e *result.Event, multiClient bool) laneKey {
	switch {
	case e.Source != result.SourceClient:
		return laneKey{source: e.Source}
	case multiClient:
		return laneKey{result.SourceClient, e.Client, 0}
	}
	return laneKey{result.SourceClient, e.Client, e.Conn}
}

func sourceRank(s result.Source) int {
	switch s {
	case result.SourceClient:
		return 0
	case result.SourceServer:
		return 1
	case result.SourceTap:
		return 2
	case result.SourceLink:
		return 3
	case result.SourceHarness:
		return 4
	}
	return 5
}

func (k laneKey) label(multiClient bool) string {
	if k.source != result.SourceClient {
		if k.source == "" {
			return "(no source)"
		}
		return string(k.source)
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

// planLanes orders the lanes: client connections (or clients), then
// server, tap, link, harness and anything else. Past maxLanes-1 client
// lanes the rest share the last client lane. A lane that holds events
// derived from the wire says so in its label. several is whether the
// scenario says it ran several clients.
func planLanes(events []*result.Event, several bool) *lanePlan {
	ids := map[string]bool{}
	for _, e := range events {
		if e.Source == result.SourceClient {
			ids[e.Client] = true
		}
	}
	p := &lanePlan{index: map[laneKey]int{}, multi: several || len(ids) > 1}
	wire := map[laneKey]bool{}
	var keys []laneKey
	for _, e := range events {
		k := laneOf(e, p.multi)
		if _, ok := p.index[k]; !ok {
			p.index[k] = 0
			keys = append(keys, k)
		}
		wire[k] = wire[k] || e.Via == result.ViaWire
	}
	slices.SortFunc(keys, func(a, b laneKey) int {
		return cmp.Or(cmp.Compare(sourceRank(a.source), sourceRank(b.source)),
			cmp.Compare(a.source, b.source), naturalCompare(a.client, b.client), cmp.Compare(a.conn, b.conn))
	})
	nClient := 0
	for i, k := range keys {
		p.index[k] = i
		if k.source == result.SourceClient {
			nClient++
		}
	}
	if nClient > maxLanes {
		p.folded = nClient - (maxLanes - 1)
		for _, k := range keys {
			switch i := p.index[k]; {
			case k.source == result.SourceClient && i >= maxLanes-1:
				p.index[k] = maxLanes - 1
			case k.source != result.SourceClient:
				p.index[k] = i - p.folded + 1
			}
		}
	}
	for _, k := range keys {
		i := p.index[k]
		for len(p.labels) <= i {
			p.labels = append(p.labels, "")
		}
		if p.labels[i] == "" {
			p.labels[i] = k.label(p.multi)
			if wire[k] {
				p.labels[i] += " · wire"
			}
		}
	}
	if p.folded > 0 {
		what := "conns"
		if p.multi {
			what = "clients"
		}
		p.labels[maxLanes-1] = fmt.Sprintf("%d more %s", p.folded, what)
	}
	return p
}
