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
// # Under a flood
//
// The chain must survive a client, or anything else on the machine, that
// opens connections by the thousand: each one relayed costs about five
// descriptors in a process that runs the whole chain (tap 2, Toxiproxy 2,
// server 1), and a process here may hold 20,000.
//
//   - The [Tap] holds at most [TapOptions].MaxConns connections and
//     MaxConnsPerAddr per client IP, by default derived from the descriptor
//     limit ([TapLimits]: 3,600 and 2,700 with 20,000). A newcomer beyond a
//     limit is admitted and the oldest silent connection evicted (then the
//     oldest unanswered, then the idlest), with an HTTP 503 and a tap-shed
//     event, so a flood cannot lock a normal client out. It dials upstream
//     once the client speaks (or after DialAfter), so silent connections
//     cost the rest of the chain nothing. Silent clients, half-closes and
//     dials are bounded in time, and when the process is out of
//     descriptors the accept loop sheds with a reserve instead of stopping
//     or spinning.
//   - Each proxy has a watchdog ([WatchOptions]) that restores it when
//     Toxiproxy's accept loop has died, which it does on the first accept
//     error (EMFILE included) while the API still says enabled.
//   - The fake server bounds connections that are not upgraded and sheds
//     beyond its own ceiling (package fakeserver, Limits).
//
// TestFloodChainSurvives holds 10,000 connections against the chain.
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
