package client

import (
	"context"
	"net"
	"net/url"
	"time"
)

// connectUnbounded is the UnboundedConnect defect of the harness's mutants
// (internal/quirks): it opens the TCP connection with no deadline of its
// own, so a connect whose SYN or SYN-ACK is lost waits on TCP's own
// retransmissions (1 s, then 2 s, 4 s... for minutes), and only then
// starts the handshake clock. It returns that start, or the end of the
// attempt when the connect failed.
func (c *Client) connectUnbounded(ctx context.Context, cc *conn) (time.Time, connEnd) {
	nc, err := c.opts.Dial(ctx, "tcp", dialAddr(c.url))
	if err != nil {
		end := connEnd{at: time.Now(), cause: CauseDialError, reason: err.Error(), class: ClassRetry}
		if ctx.Err() != nil {
			end.cause = CauseStopped
		}
		return time.Time{}, end
	}
	cc.rawMu.Lock()
	cc.raw = append(cc.raw, nc)
	cc.pre = nc
	cc.rawMu.Unlock()
	return time.Now(), connEnd{}
}

// takePre hands out the connection connectUnbounded opened, once.
func (cc *conn) takePre() net.Conn {
	cc.rawMu.Lock()
	defer cc.rawMu.Unlock()
	nc := cc.pre
	cc.pre = nil
	return nc
}

// dialAddr is the host:port a ws or wss URL dials.
func dialAddr(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
