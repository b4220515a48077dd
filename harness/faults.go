package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/internal/chaosnet"
	"github.com/wschaos/wschaos/result"
)

// Toxiproxy stream names: upstream carries client-to-server bytes.
const (
	Upstream   = "upstream"
	Downstream = "downstream"
)

var bothStreams = []string{Upstream, Downstream}

// Kinds of the built-in faults, as results name them.
const (
	FaultProxyDown       = "proxy-down"
	FaultDialRefused     = "dial-refused"
	FaultBlackHole       = "black-hole"
	FaultLatency         = "latency"
	FaultBandwidth       = "bandwidth"
	FaultSlicer          = "slicer"
	FaultLimitData       = "limit-data"
	FaultSlowClose       = "slow-close"
	FaultResetPeer       = "reset-peer"
	FaultCloseFrame      = "close-frame"
	FaultAbruptClose     = "abrupt-close"
	FaultMidFrameClose   = "mid-frame-close"
	FaultMutedPongs      = "muted-pongs"
	FaultUpgradeStall    = "upgrade-stall"
	FaultReject          = "reject"
	FaultServerRestart   = "server-restart"
	FaultConnectionLimit = "connection-limit"
)

// ProxyDown disables the proxy at `at` for `d`: every connection through it
// is closed with FIN and new dials are refused until it is enabled again.
func ProxyDown(at, d time.Duration) Fault {
	return Fault{
		Kind: FaultProxyDown, Layer: result.LayerNetwork, At: at, For: d,
		Text:  fmt.Sprintf("proxy disabled for %v (FIN, then refused dials)", d),
		Start: func(ctx context.Context, env *Env) error { return env.Proxy.Disable(ctx) },
		Stop:  func(ctx context.Context, env *Env) error { return env.Proxy.Enable(ctx) },
	}
}

// DialRefused keeps the proxy disabled from before the first dial for d.
func DialRefused(d time.Duration) Fault {
	f := ProxyDown(0, d)
	f.Kind, f.Initial = FaultDialRefused, true
	f.Text = fmt.Sprintf("proxy disabled before the first dial, for %v", d)
	return f
}

// BlackHole adds a Toxiproxy timeout toxic with timeout 0 to the given
// streams (both when none are named): data is swallowed and connections stay
// open, half-open as far as each end can tell. Removing the toxic closes the
// connections it held.
func BlackHole(at, d time.Duration, streams ...string) Fault {
	if len(streams) == 0 {
		streams = bothStreams
	}
	return toxicFault(FaultBlackHole, at, d, fmt.Sprintf("timeout 0 on %v for %v", streams, d),
		"timeout", map[string]int{"timeout": 0}, streams)
}

// Latency adds delay ms to each of the given streams (both when none are
// named), so a round trip gains twice that.
func Latency(at, d, delay time.Duration, streams ...string) Fault {
	if len(streams) == 0 {
		streams = bothStreams
	}
	return toxicFault(FaultLatency, at, d, fmt.Sprintf("+%v on %v for %v", delay, streams, d),
		"latency", map[string]int{"latency": int(delay / time.Millisecond)}, streams)
}

// Bandwidth limits each of the given streams to kbps kilobytes per second.
func Bandwidth(at, d time.Duration, kbps int, streams ...string) Fault {
	if len(streams) == 0 {
		streams = bothStreams
	}
	return toxicFault(FaultBandwidth, at, d, fmt.Sprintf("%d KB/s on %v for %v", kbps, streams, d),
		"bandwidth", map[string]int{"rate": kbps}, streams)
}

// Slicer re-fragments each of the given streams into chunks of about size
// bytes, delayed by delay between chunks.
func Slicer(at, d time.Duration, size int, delay time.Duration, streams ...string) Fault {
	if len(streams) == 0 {
		streams = bothStreams
	}
	return toxicFault(FaultSlicer, at, d, fmt.Sprintf("%d-byte slices every %v on %v for %v", size, delay, streams, d),
		"slicer", map[string]int{"average_size": size, "size_variation": size / 2, "delay": int(delay / time.Microsecond)}, streams)
}

// LimitData closes the downstream with FIN after n more bytes.
func LimitData(at, d time.Duration, n int) Fault {
	return toxicFault(FaultLimitData, at, d, fmt.Sprintf("FIN after %d bytes downstream", n),
		"limit_data", map[string]int{"bytes": n}, []string{Downstream})
}

// SlowClose delays the FIN that follows the server's close by delay.
func SlowClose(at, d, delay time.Duration) Fault {
	return toxicFault(FaultSlowClose, at, d, fmt.Sprintf("FIN delayed %v", delay),
		"slow_close", map[string]int{"delay": int(delay / time.Millisecond)}, []string{Downstream})
}

func toxicFault(kind string, at, d time.Duration, text, typ string, attrs map[string]int, streams []string) Fault {
	toxics := make([]Toxic, len(streams))
	for i, s := range streams {
		toxics[i] = Toxic{Name: kind + "-" + s, Type: typ, Stream: s, Attributes: attrs}
	}
	f := ToxicFault(kind, at, d, toxics...)
	f.Text = text
	return f
}

// Toxic is a Toxiproxy toxic: any type the Toxiproxy server knows, with
// its attributes. Toxiproxy v2.12.0's types and their (integer) attributes:
//
//	latency     latency, jitter (ms); delay = latency ± jitter per chunk
//	bandwidth   rate (KB/s; 0 stalls the stream)
//	timeout     timeout (ms without a chunk before a FIN; 0 never closes: a black hole)
//	reset_peer  timeout (ms from the first chunk to the RST)
//	slow_close  delay (ms before the FIN is passed on)
//	limit_data  bytes (FIN after that many bytes)
//	slicer      average_size, size_variation (bytes), delay (µs between slices)
//
// An external toxiproxy-server built with toxics of its own accepts their
// type names too; the server, not the harness, says whether it knows one.
type Toxic struct {
	// Name identifies the toxic on its proxy. Defaults to Type + "_" +
	// Stream, as Toxiproxy does.
	Name string
	Type string
	// Stream is Upstream (client to server) or Downstream. Defaults to
	// Downstream.
	Stream string
	// Toxicity is the probability that the toxic acts on a connection.
	// Defaults to 1.
	Toxicity float32
	// Attributes are the type's settings, such as {"latency": 50}.
	Attributes map[string]int
}

// ToxicFault adds every toxic at `at` and removes them d later: a fault of
// any Toxiproxy type, for scenarios the built-in faults do not cover.
func ToxicFault(kind string, at, d time.Duration, toxics ...Toxic) Fault {
	text := kind
	for i, t := range toxics {
		if i == 0 {
			text += ":"
		}
		text += fmt.Sprintf(" %s %v on %s", t.Type, t.Attributes, cmpOr(t.Stream, Downstream))
	}
	return Fault{
		Kind: kind, Layer: result.LayerNetwork, At: at, For: d, Text: text,
		Start: func(ctx context.Context, env *Env) error {
			for _, t := range toxics {
				if err := env.AddToxic(ctx, t); err != nil {
					return err
				}
			}
			return nil
		},
		Stop: func(ctx context.Context, env *Env) error {
			var errs []error
			for _, t := range toxics {
				errs = append(errs, env.RemoveToxic(ctx, toxicName(t)))
			}
			return errors.Join(errs...)
		},
	}
}

func toxicName(t Toxic) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Type + "_" + cmpOr(t.Stream, Downstream)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ResetPeer sends RST on the live connections: a reset_peer toxic is armed
// (toxicity 0) before any client connects, as Toxiproxy only resets
// connections it saw accepted, and switched on at `at`. It stays on for d,
// which must be shorter than the client's shortest retry delay so the
// reconnection is not reset too.
func ResetPeer(at, d time.Duration) Fault {
	const name = "reset-peer"
	return Fault{
		Kind: FaultResetPeer, Layer: result.LayerNetwork, At: at, For: d,
		Text: "RST on the established connection (reset_peer armed at accept, then switched on)",
		Arm: func(ctx context.Context, env *Env) error {
			return env.Proxy.AddToxic(ctx, chaosnet.Toxic{Name: name, Type: "reset_peer", Stream: Downstream, Armed: true,
				Attributes: map[string]int{"timeout": 0}})
		},
		Start: func(ctx context.Context, env *Env) error { return env.Proxy.Activate(ctx, name) },
		Stop:  func(ctx context.Context, env *Env) error { return env.Proxy.RemoveToxic(ctx, name) },
	}
}

// ServerClose makes the fake server send a close frame with code and reason
// on every connection.
func ServerClose(at time.Duration, code int, reason string) Fault {
	return Fault{
		Kind: FaultCloseFrame, Layer: result.LayerServer, At: at,
		Text: fmt.Sprintf("close frame %d %q", code, reason),
		Start: func(ctx context.Context, env *Env) error {
			env.Server.CloseAll(websocket.StatusCode(code), reason)
			return nil
		},
	}
}

// AbruptClose makes the fake server close every TCP connection with no close
// frame: the client sees 1006.
func AbruptClose(at time.Duration) Fault {
	return Fault{
		Kind: FaultAbruptClose, Layer: result.LayerServer, At: at, Text: "TCP closed with no close frame (1006)",
		Start: func(ctx context.Context, env *Env) error { env.Server.DropAll(); return nil },
	}
}

// MidFrameClose makes the fake server close TCP halfway through a frame.
func MidFrameClose(at time.Duration) Fault {
	return Fault{
		Kind: FaultMidFrameClose, Layer: result.LayerServer, At: at, Text: "TCP closed halfway through a text frame",
		Start: func(ctx context.Context, env *Env) error { env.Server.DropMidFrame(); return nil },
	}
}

// MutePongs makes the fake server withhold pongs for d, with TCP healthy and
// its push paused, so the connection carries nothing at all; the push resumes
// at `push` when the fault ends.
func MutePongs(at, d, push time.Duration) Fault {
	return Fault{
		Kind: FaultMutedPongs, Layer: result.LayerServer, At: at, For: d, Text: fmt.Sprintf("pongs withheld and push paused for %v", d),
		Start: func(ctx context.Context, env *Env) error {
			env.Server.SetMutePongs(true)
			env.Server.SetPush(0)
			return nil
		},
		Stop: func(ctx context.Context, env *Env) error {
			env.Server.SetMutePongs(false)
			env.Server.SetPush(push)
			return nil
		},
	}
}

// Stall makes the fake server accept TCP but never answer the HTTP upgrade
// for d; live connections are dropped so that clients dial into the stall.
func Stall(at, d time.Duration) Fault {
	return Fault{
		Kind: FaultUpgradeStall, Layer: result.LayerServer, At: at, For: d, Text: fmt.Sprintf("upgrades accepted at TCP level and never answered, for %v", d),
		Start: func(ctx context.Context, env *Env) error {
			env.Server.SetStall(true)
			env.Server.DropAll()
			return nil
		},
		Stop: func(ctx context.Context, env *Env) error { env.Server.SetStall(false); return nil },
	}
}

// Reject makes the fake server refuse upgrades with an HTTP status (and a
// Retry-After header when retryAfter is not empty) for d. With initial set it
// is in force before the first dial.
func Reject(at, d time.Duration, status int, retryAfter string, initial bool) Fault {
	detail := fmt.Sprintf("upgrade refused with %d", status)
	if retryAfter != "" {
		detail += ", Retry-After " + retryAfter
	}
	return Fault{
		Kind: FaultReject, Layer: result.LayerServer, At: at, For: d, Initial: initial, Text: detail,
		Start: func(ctx context.Context, env *Env) error {
			env.Server.SetReject(status, retryAfter)
			// Refusals only reach clients that dial again.
			env.Server.DropAll()
			return nil
		},
		Stop: func(ctx context.Context, env *Env) error { env.Server.SetReject(0, ""); return nil },
	}
}

// ServerRestart stops the fake server's listener (dropping every connection)
// for d, then starts it again on the same address, forgetting every session
// unless keepState.
func ServerRestart(at, d time.Duration, keepState bool) Fault {
	detail := "listener gone for " + d.String() + ", sessions kept"
	if !keepState {
		detail = "listener gone for " + d.String() + ", sessions forgotten"
	}
	return Fault{
		Kind: FaultServerRestart, Layer: result.LayerServer, At: at, For: d, Text: detail,
		Start: func(ctx context.Context, env *Env) error {
			if !keepState {
				env.Server.ForgetSessions()
			}
			return env.Server.Stop()
		},
		Stop: func(ctx context.Context, env *Env) error { return env.Server.Start() },
	}
}

// ConnectionLimit lowers the fake server's connection limit to n for d and
// drops every connection, so that the clients race back and all but n are
// refused with 503 and Retry-After (fakeserver.Options.LimitRetryAfter).
func ConnectionLimit(at, d time.Duration, n int) Fault {
	return Fault{
		Kind: FaultConnectionLimit, Layer: result.LayerServer, At: at, For: d,
		Text: fmt.Sprintf("at most %d connections for %v; the rest refused with 503 and Retry-After", n, d),
		Start: func(ctx context.Context, env *Env) error {
			env.Server.SetMaxConnections(n)
			env.Server.DropAll()
			return nil
		},
		Stop: func(ctx context.Context, env *Env) error { env.Server.SetMaxConnections(0); return nil },
	}
}
