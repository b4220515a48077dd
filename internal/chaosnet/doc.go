// Package chaosnet is the network layer the harness drives: a connection to a
// Toxiproxy server (embedded in-process, or external), proxies and toxics on it,
// and a wire tap, a plain TCP relay that reports every client connect, close and
// byte count.
//
// A typical chain is
//
//	client ──> Tap ──> Proxy (Toxiproxy) ──> fake server
//
// built with [StartToxiproxy] (or [StartToxiproxyWith]), [Toxiproxy.NewProxy]
// and [NewTap]. Every call that
// talks to Toxiproxy takes a context; the official Toxiproxy client takes none, so
// each call runs in a goroutine that the caller stops waiting for when the context
// ends (the request itself then finishes in the background, bounded by the client's
// 30s timeout, and [Toxiproxy.Close] waits for it).
//
// The embedded Toxiproxy's API refuses (HTTP 400) a proxy whose listen
// address is not loopback, on create, populate and update, unless
// [ToxiproxyOptions].AllowRemoteProxies is set: the API has no
// authentication, and such a proxy would relay for other machines.
//
// # Toxiproxy behaviour worth knowing (v2.12.0)
//
//   - Toxics act on chunks (one socket read), not packets or WebSocket frames.
//   - reset_peer sends an RST only if the toxic existed when the connection was
//     accepted (that is when the proxy sets SO_LINGER 0 on both sockets). Added
//     later it closes with a plain FIN. It fires on the next chunk that reaches it
//     in its direction, which it drops: with no traffic in that direction nothing
//     happens. Use [Toxic.Armed] and [Proxy.Activate] to reset a live connection.
//   - timeout with timeout 0 drops every chunk and never closes (a black hole).
//     Removing it closes the connections it held with a FIN.
//   - Disabling a proxy closes every connection with a FIN and refuses new dials;
//     enabling it binds the same address again. Behind a [Tap] a refused dial
//     shows as accepted, then closed.
//   - A toxicity below 1 is drawn per connection and direction, and drawn again
//     whenever the toxic is updated or the next toxic in the chain is added or
//     removed.
//   - limit_data closes with a FIN after the given number of bytes.
//
// The package Example shows the chain resetting a live connection.
// toxiproxy_test.go exercises these behaviours over real sockets (all but the
// toxicity re-draw, which is read from Toxiproxy's link.go); TestExternal runs
// against a real toxiproxy-server when TOXIPROXY_URL is set.
package chaosnet
