package chaosnet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Proxy is one Toxiproxy proxy, created by [Toxiproxy.NewProxy]. Its methods are
// safe for concurrent use; calls on one proxy reach the server one at a time.
type Proxy struct {
	t        *Toxiproxy
	name     string
	addr     string
	upstream string

	mu sync.Mutex        // serialises calls: Enable and Disable rewrite cp
	cp *toxiclient.Proxy // guarded by mu

	// The accept-loop watchdog (see WatchOptions).
	wantEnabled   atomic.Bool // Enable or creation, not Disable, was the last word
	watchDisabled atomic.Bool // a restore disabled the proxy and has not enabled it yet
	watchStop     context.CancelFunc
	watchDone     chan struct{}
}

// Name returns the proxy's name on the server.
func (p *Proxy) Name() string { return p.name }

// Addr returns the address the proxy listens on, "127.0.0.1:port". It stays the
// same across Disable and Enable.
func (p *Proxy) Addr() string { return p.addr }

// Upstream returns the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// Disable stops the proxy: every connection through it is closed with a FIN and
// new dials to Addr are refused. Toxics stay in place.
func (p *Proxy) Disable(ctx context.Context) error {
	p.wantEnabled.Store(false)
	if err := p.call(ctx, func() error { return p.cp.Disable() }); err != nil {
		return fmt.Errorf("chaosnet: disable proxy %q: %w", p.name, err)
	}
	return nil
}

// Enable starts a disabled proxy again on the same address. It fails if another
// socket took the port in the meantime.
func (p *Proxy) Enable(ctx context.Context) error {
	if err := p.call(ctx, func() error { return p.cp.Enable() }); err != nil {
		return fmt.Errorf("chaosnet: enable proxy %q: %w", p.name, err)
	}
	p.wantEnabled.Store(true)
	return nil
}

// toxicTypes are the toxic types Toxiproxy v2.12.0 knows.
var toxicTypes = []string{"latency", "bandwidth", "timeout", "reset_peer", "slow_close", "limit_data", "slicer"}

// Toxic describes a toxic to add to a proxy. The types and their attributes
// (all integers) are:
//
//	latency     latency, jitter (ms); delay = latency ± jitter per chunk
//	bandwidth   rate (KB/s; 0 stalls the stream)
//	timeout     timeout (ms without a chunk before a FIN; 0 never closes: a black hole)
//	reset_peer  timeout (ms from the first chunk to the RST)
//	slow_close  delay (ms before the FIN is passed on)
//	limit_data  bytes (FIN after that many bytes)
//	slicer      average_size, size_variation (bytes), delay (µs between slices)
type Toxic struct {
	// Name identifies the toxic on its proxy, for Activate and RemoveToxic.
	// Defaults to Type + "_" + Stream, as Toxiproxy does.
	Name string
	// Type is one of latency, bandwidth, timeout, reset_peer, slow_close,
	// limit_data, slicer.
	Type string
	// Stream is "upstream" (client to server) or "downstream" (server to client).
	// Defaults to "downstream".
	Stream string
	// Toxicity is the probability that the toxic acts on a connection. 0 means
	// the default, 1. Toxiproxy draws it per connection and direction, and draws
	// again whenever the toxic is updated or the toxic after it in the chain is
	// added or removed, so a partial toxicity can switch on or off on a live
	// connection.
	Toxicity float32
	// Armed adds the toxic with toxicity 0: present on every connection accepted
	// from now on (so reset_peer can reset them) but inactive until Activate.
	// Armed toxics must leave Toxicity 0.
	Armed bool
	// Attributes are the type's settings, e.g. {"latency": 50} or
	// {"bytes": 1024}. Unset attributes are 0.
	Attributes map[string]int
}

// AddToxic adds tx to the proxy. It acts on connections already open and on new
// ones, except that reset_peer can only send an RST on connections accepted after
// it was added.
func (p *Proxy) AddToxic(ctx context.Context, tx Toxic) error {
	if tx.Stream == "" {
		tx.Stream = "downstream"
	}
	if tx.Name == "" {
		tx.Name = tx.Type + "_" + tx.Stream
	}
	if err := tx.validate(p.t.Mode() == "external"); err != nil {
		return fmt.Errorf("chaosnet: add toxic %q: %w", tx.Name, err)
	}
	// The client sends toxicity as given and the server takes 0 as "never".
	toxicity := tx.Toxicity
	switch {
	case tx.Armed:
		toxicity = 0
	case toxicity == 0:
		toxicity = 1
	}
	attrs := make(toxiclient.Attributes, len(tx.Attributes))
	for k, v := range tx.Attributes {
		attrs[k] = v
	}
	err := p.call(ctx, func() error {
		_, err := p.cp.AddToxic(tx.Name, tx.Type, tx.Stream, toxicity, attrs)
		return err
	})
	if err != nil {
		return fmt.Errorf("chaosnet: add toxic %q: %w", tx.Name, err)
	}
	return nil
}

// validate checks tx; an external server may know toxic types of its own,
// so for it only an empty type is refused here and the server judges the
// rest.
func (tx Toxic) validate(external bool) error {
	if tx.Type == "" || (!external && !slices.Contains(toxicTypes, tx.Type)) {
		return fmt.Errorf("unknown type %q, want one of %s", tx.Type, strings.Join(toxicTypes, ", "))
	}
	if tx.Stream != "upstream" && tx.Stream != "downstream" {
		return fmt.Errorf("stream %q, want upstream or downstream", tx.Stream)
	}
	if tx.Toxicity < 0 || tx.Toxicity > 1 {
		return fmt.Errorf("toxicity %v, want 0 (default 1) up to 1", tx.Toxicity)
	}
	if tx.Armed && tx.Toxicity != 0 {
		return fmt.Errorf("armed with toxicity %v, want 0: armed toxics are activated at 1", tx.Toxicity)
	}
	if strings.ContainsAny(tx.Name, "/?#% ") {
		return fmt.Errorf("name must not contain '/', '?', '#', '%%' or spaces")
	}
	return nil
}

// Activate sets the toxicity of the named toxic to 1. Each connection re-draws
// against the new toxicity at once, so an armed toxic acts on every connection.
func (p *Proxy) Activate(ctx context.Context, name string) error {
	err := p.call(ctx, func() error {
		_, err := p.cp.UpdateToxic(name, 1, toxiclient.Attributes{})
		return err
	})
	if err != nil {
		return fmt.Errorf("chaosnet: activate toxic %q: %w", name, err)
	}
	return nil
}

// RemoveToxic removes the named toxic. Removing a timeout toxic closes the
// connections it was holding.
func (p *Proxy) RemoveToxic(ctx context.Context, name string) error {
	if err := p.call(ctx, func() error { return p.cp.RemoveToxic(name) }); err != nil {
		return fmt.Errorf("chaosnet: remove toxic %q: %w", name, err)
	}
	return nil
}

// Delete stops the proxy's watchdog and removes the proxy from the server,
// closing its listener and every connection through it.
func (p *Proxy) Delete(ctx context.Context) error {
	p.wantEnabled.Store(false)
	p.stopWatch()
	err := p.call(ctx, func() error {
		if err := p.cp.Delete(); err != nil {
			return err
		}
		p.t.forget(p.name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("chaosnet: delete proxy %q: %w", p.name, err)
	}
	return nil
}

func (p *Proxy) call(ctx context.Context, f func() error) error {
	return p.t.do(ctx, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return f()
	})
}
