package result

import (
	"fmt"
	"strconv"
)

// Source names the component that recorded an event.
type Source string

// The sources of events.
const (
	// SourceClient: the client under test, by its own account (the
	// reference client's events) or as the wire showed it (an outside
	// client's, marked [ViaWire]).
	SourceClient Source = "client"
	// SourceServer: the fake WebSocket server.
	SourceServer Source = "server"
	// SourceTap: the wire tap in front of the proxy, which sees every TCP
	// connection the client makes.
	SourceTap Source = "tap"
	// SourceLink: the userspace packet link between the client and the tap.
	SourceLink Source = "link"
	// SourceHarness: the harness itself (faults, warm-up, drain, notes).
	SourceHarness Source = "harness"
)

// Kind names what an event says happened. Every kind belongs to exactly one
// [Source]; [Vocabulary] lists them all with their meaning, and a result
// that holds a kind outside it is refused.
type Kind string

// Client kinds.
const (
	KindDialing      Kind = "dialing"
	KindConnected    Kind = "connected"
	KindReady        Kind = "ready"
	KindDisconnected Kind = "disconnected"
	KindBackoff      Kind = "backoff"
	KindGap          Kind = "gap"
	KindUndelivered  Kind = "undelivered"
	KindFatal        Kind = "fatal"
	KindStopped      Kind = "stopped"
	KindPing         Kind = "ping"
	KindPong         Kind = "pong"
	KindSent         Kind = "sent"
	KindReceived     Kind = "received"
	KindSendError    Kind = "send-error"
	KindReturned     Kind = "returned"
	KindStdout       Kind = "stdout"
	KindStderr       Kind = "stderr"
)

// Server kinds.
const (
	KindListen            Kind = "listen"
	KindListenerStop      Kind = "listener-stop"
	KindAccept            Kind = "accept"
	KindReject            Kind = "reject"
	KindStall             Kind = "stall"
	KindShed              Kind = "shed"
	KindHello             Kind = "hello"
	KindWelcome           Kind = "welcome"
	KindSessionNew        Kind = "session-new"
	KindSessionExpired    Kind = "session-expired"
	KindSessionsForgotten Kind = "sessions-forgotten"
	KindRecv              Kind = "recv"
	KindDup               Kind = "dup"
	KindSend              Kind = "send"
	KindPush              Kind = "push"
	KindPlain             Kind = "plain"
	KindAckRecv           Kind = "ack-recv"
	KindEcho              Kind = "echo"
	KindRaw               Kind = "raw"
	KindBadFrame          Kind = "bad-frame"
	KindPingRecv          Kind = "ping-recv"
	KindPongWithheld      Kind = "pong-withheld"
	KindCloseSent         Kind = "close-sent"
	KindDrop              Kind = "drop"
	KindServerClosed      Kind = "server-closed"
)

// Tap kinds. Every tap-connect is followed by exactly one tap-closed, the
// last event of that connection.
const (
	KindTapConnect       Kind = "tap-connect"
	KindTapRefused       Kind = "tap-upstream-refused"
	KindTapClientClose   Kind = "tap-client-close"
	KindTapUpstreamClose Kind = "tap-upstream-close"
	KindTapShed          Kind = "tap-shed"
	KindTapClosed        Kind = "tap-closed"
)

// Link kinds.
const (
	KindLinkStats Kind = "link-stats"
)

// Harness kinds.
const (
	KindOutside    Kind = "outside-client"
	KindWarm       Kind = "warm"
	KindFaultStart Kind = "fault-start"
	KindFaultEnd   Kind = "fault-end"
	KindDrain      Kind = "drain"
	KindNote       Kind = "note"
)

// KindInfo describes one kind of the vocabulary.
type KindInfo struct {
	Kind   Kind
	Source Source
	// Fields names the typed fields the kind sets, for the documentation.
	Fields string
	// Doc says what the event means, in one sentence.
	Doc string
}

// vocabulary is the one list of event kinds: the constants above, their
// sources and meanings. docs/events.md is generated from it.
var vocabulary = []KindInfo{
	{KindDialing, SourceClient, "conn, attempt", "A connection attempt starts (for an outside client: the tap accepted a connection)."},
	{KindConnected, SourceClient, "conn, attempt", "The WebSocket upgrade completed; for a session client the hello/welcome round trip is still to come."},
	{KindReady, SourceClient, "conn, attempt, resumed, downtime_ms", "The connection is usable: the upgrade succeeded, plus the hello/welcome round trip for a client that speaks the session protocol. Recovery is measured to this event."},
	{KindDisconnected, SourceClient, "conn, attempt, cause, class, code, status, reason", "The client declared the connection (or the attempt) over; cause says which detector or error ended it. Detection is measured to this event."},
	{KindBackoff, SourceClient, "conn, attempt, cause, class, code, status, delay_ms, hint_ms", "The client waits delay_ms before its next dial; hint_ms is the server hint it honoured, if any."},
	{KindGap, SourceClient, "conn, count, cause", "Server messages were lost for good and the client said so; count is how many (0 when the server forgot the session and the count is unknown)."},
	{KindUndelivered, SourceClient, "count, seqs, cause", "Messages the application handed to the client were never acknowledged and the client gave up on them (a fatal close); seqs lists them."},
	{KindFatal, SourceClient, "conn, attempt, cause, class, code, status, reason", "The server ended the session in a way retrying cannot fix; the client stops."},
	{KindStopped, SourceClient, "conn, attempt, reason", "The client's Run is returning."},
	{KindPing, SourceClient, "conn", "The client sent a ping after PingInterval of inbound silence."},
	{KindPong, SourceClient, "conn", "A pong arrived."},
	{KindSent, SourceClient, "seq", "The workload handed message seq to the client (accepted into its outbox)."},
	{KindReceived, SourceClient, "seq", "The client delivered server message seq to the application."},
	{KindSendError, SourceClient, "cause, text", "The client refused a message from the workload; cause outbox-full is backpressure."},
	{KindReturned, SourceClient, "text, pid", "The client's Run returned, or the outside client's process exited; text says how."},
	{KindStdout, SourceClient, "text", "A line the outside client wrote to standard output."},
	{KindStderr, SourceClient, "text", "A line the outside client wrote to standard error."},

	{KindListen, SourceServer, "text", "The fake server's listener came up; text is its URL."},
	{KindListenerStop, SourceServer, "", "The fake server's listener went away."},
	{KindAccept, SourceServer, "conn, text", "An upgrade succeeded; text is the client's address."},
	{KindReject, SourceServer, "conn, status, reason", "An upgrade was refused with HTTP status."},
	{KindStall, SourceServer, "conn", "An upgrade is being held and will never be answered."},
	{KindShed, SourceServer, "conn, status, reason", "A connection over the server's limits was refused to keep the server healthy."},
	{KindHello, SourceServer, "conn, client, text", "A client said hello."},
	{KindWelcome, SourceServer, "conn, client, seq, resumed, count", "The server answered hello: seq is the first server sequence to come, count the gap it could not replay."},
	{KindSessionNew, SourceServer, "client, seq", "A new session began; seq is its first sequence."},
	{KindSessionExpired, SourceServer, "client, seq", "A session's resume window ran out; seq is its last server sequence."},
	{KindSessionsForgotten, SourceServer, "count", "The server forgot every session (a restart without state)."},
	{KindRecv, SourceServer, "conn, client, seq", "The server delivered client message seq, in order."},
	{KindDup, SourceServer, "conn, client, seq", "The server dropped client message seq: it had delivered it before."},
	{KindSend, SourceServer, "conn, client, seq", "The server wrote its message seq to the client."},
	{KindPlain, SourceServer, "conn, client", "A connection said no hello in time: the server takes it for a plain WebSocket client and pushes raw text to it from now on."},
	{KindPush, SourceServer, "conn, client, seq", "The server pushed the raw text \"p<seq>\" (seq in ten digits) to a plain client (one that does not speak the session protocol)."},
	{KindAckRecv, SourceServer, "conn, client, seq", "The client acknowledged server messages up to seq."},
	{KindEcho, SourceServer, "conn, client", "The server answered an echo envelope."},
	{KindRaw, SourceServer, "conn, client, seq", "Text that is not an envelope arrived; the server echoed it back, unless it was a plain client's echo of push seq (then seq is set and nothing is echoed)."},
	{KindBadFrame, SourceServer, "conn, code, reason", "Hostile input: the server closed the connection with code."},
	{KindPingRecv, SourceServer, "conn", "A ping arrived at the server."},
	{KindPongWithheld, SourceServer, "conn", "The server withheld the pong to a ping."},
	{KindCloseSent, SourceServer, "conn, code, reason", "The server started a close handshake with code."},
	{KindDrop, SourceServer, "conn, text", "The server closed TCP with no close frame (text says if mid-frame)."},
	{KindServerClosed, SourceServer, "conn, client, code, reason", "A server connection ended; code is the peer's close code, 1006 if none."},

	{KindTapConnect, SourceTap, "conn, client, text", "The tap accepted a TCP connection (client is the outside client it belongs to, when each has a tap of its own; text the remote address)."},
	{KindTapRefused, SourceTap, "conn, text", "The tap could not reach upstream; the client's connection is closed with FIN."},
	{KindTapClientClose, SourceTap, "conn, bytes_up, bytes_down, reset, last_down_ms", "The client's side of a tap connection ended (FIN or reset)."},
	{KindTapUpstreamClose, SourceTap, "conn, bytes_up, bytes_down, reset, last_down_ms", "The upstream side of a tap connection ended (FIN or reset)."},
	{KindTapShed, SourceTap, "conn, status, reason", "The tap closed a connection of its own accord to stay within its limits (connections in all or per address, descriptors, a silent client, a half-close held too long); status is the HTTP status it answered with (503, 408), 0 if none, and reason says which limit."},
	{KindTapClosed, SourceTap, "conn, bytes_up, bytes_down, reset, last_down_ms, cause", "Both sides of a tap connection are closed; byte counts are final. cause is stopped when the harness closed it."},

	{KindLinkStats, SourceLink, "packets", "Packet counters of the userspace link, per direction, so far."},

	{KindOutside, SourceHarness, "client, pid, text", "Names an outside client under test: its process id and command line."},
	{KindWarm, SourceHarness, "count", "Every client is ready with traffic both ways: the fault schedule's clock starts."},
	{KindFaultStart, SourceHarness, "fault, text", "Fault number fault took effect."},
	{KindFaultEnd, SourceHarness, "fault", "Fault number fault ended."},
	{KindDrain, SourceHarness, "", "The workload stopped; messages produced after this are not counted."},
	{KindNote, SourceHarness, "text", "Something a reader should know, in words."},
}

var kindIndex = func() map[Kind]KindInfo {
	m := make(map[Kind]KindInfo, len(vocabulary))
	for _, k := range vocabulary {
		m[k.Kind] = k
	}
	return m
}()

// Vocabulary returns every event kind with its source and meaning, grouped
// by source.
func Vocabulary() []KindInfo { return append([]KindInfo(nil), vocabulary...) }

// Source returns the source that records events of kind k, and "" for a
// kind outside the vocabulary.
func (k Kind) Source() Source { return kindIndex[k].Source }

// Known reports whether k is in the vocabulary.
func (k Kind) Known() bool { _, ok := kindIndex[k]; return ok }

// Cause says why a connection ended, as the client declared it or as the
// wire showed it.
type Cause string

// Causes. The first group is what a client reports of itself; the second
// what the wire shows of an outside client.
const (
	CauseHeartbeat        Cause = "heartbeat"         // PingInterval+PongTimeout of inbound silence
	CauseAckTimeout       Cause = "ack-timeout"       // a sent message unacknowledged for AckTimeout
	CauseReadError        Cause = "read-error"        // the transport failed without a close frame
	CauseCloseFrame       Cause = "close-frame"       // the peer sent a close frame
	CauseWriteError       Cause = "write-error"       // a write failed
	CauseDialError        Cause = "dial-error"        // the TCP or TLS dial, or the upgrade, failed
	CauseHandshakeTimeout Cause = "handshake-timeout" // no upgrade (or welcome) within HandshakeTimeout
	CauseHTTPStatus       Cause = "http-status"       // the upgrade was refused with an HTTP status
	CauseProtocolError    Cause = "protocol-error"    // the server broke the protocol
	CauseStopped          Cause = "stopped"           // the harness (or the application) stopped the client

	CauseOutboxFull Cause = "outbox-full" // on send-error: the client refused a message (backpressure)

	CauseSocketClosed Cause = "socket-closed" // wire: the client closed its socket
	CauseRedialed     Cause = "redialed"      // wire: the client opened a new connection while the old one was open
	CauseNetwork      Cause = "network"       // wire: the network ended both sides (a reset passed on, upstream refused)
)

// Class says what an ended connection means for the next attempt.
type Class string

// Classes of the client's close-reason taxonomy.
const (
	ClassRetry     Class = "retry"      // reconnect after the normal backoff delay
	ClassRetryHint Class = "retry-hint" // reconnect, not before the server's hint
	ClassFatal     Class = "fatal"      // do not reconnect
)

// Via says how an event or a figure was known.
type Via string

const (
	// ViaSelf (empty): the source reported it itself.
	ViaSelf Via = ""
	// ViaWire: derived from the wire tap and the fake server, for an outside
	// client the harness cannot see inside.
	ViaWire Via = "wire"
)

// CloseCode is a WebSocket close code (RFC 6455 section 7.4).
type CloseCode int

var closeNames = map[CloseCode]string{
	1000: "normal closure", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
	1005: "no status", 1006: "abnormal closure", 1007: "invalid payload", 1008: "policy violation",
	1009: "message too big", 1010: "mandatory extension", 1011: "internal error", 1012: "service restart",
	1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake",
	4401: "logged out", 4403: "forbidden", 4429: "too many requests", 4440: "replaced",
}

// String returns the code and its name, such as "1006 abnormal closure".
func (c CloseCode) String() string {
	if n, ok := closeNames[c]; ok {
		return strconv.Itoa(int(c)) + " " + n
	}
	return strconv.Itoa(int(c))
}

// Packets counts one direction of the packet link.
type Packets struct {
	Sent       uint64 `json:"sent"`
	Dropped    uint64 `json:"dropped"`
	Duplicated uint64 `json:"duplicated"`
	Reordered  uint64 `json:"reordered"`
	Corrupted  uint64 `json:"corrupted"`
	// TooBig counts packets dropped for exceeding the link's MTU.
	TooBig uint64 `json:"too_big"`
	// Retransmitted counts TCP segments the userspace stack sent again, when
	// it exposes the figure.
	Retransmitted uint64 `json:"retransmitted"`
}

// LinkPackets counts both directions of the packet link.
type LinkPackets struct {
	Up   Packets `json:"up"`   // client to server
	Down Packets `json:"down"` // server to client
}

// Event is one entry of a scenario's timeline. Which fields are set depends
// on Kind (see [Vocabulary]); the rest are zero. Every figure an event
// carries is a typed field: Text is for people and is never parsed.
type Event struct {
	// TMS is milliseconds since the scenario's time origin.
	TMS    float64 `json:"t_ms"`
	Source Source  `json:"source"`
	Kind   Kind    `json:"kind"`
	// Client is the client id the event concerns, if any.
	Client string `json:"client,omitempty"`
	// Conn is the connection number within its source, if any.
	Conn uint64 `json:"conn,omitempty"`
	// Via is ViaWire for a client event the harness derived from the wire.
	Via   Via   `json:"via,omitempty"`
	Cause Cause `json:"cause,omitempty"`
	Class Class `json:"class,omitempty"`
	// Code is a WebSocket close code; Status the HTTP status of a refused
	// upgrade.
	Code       CloseCode `json:"code,omitempty"`
	Status     int       `json:"status,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`
	DelayMS    float64   `json:"delay_ms,omitempty"`
	HintMS     float64   `json:"hint_ms,omitempty"`
	DowntimeMS float64   `json:"downtime_ms,omitempty"`
	Resumed    bool      `json:"resumed,omitempty"`
	Seq        uint64    `json:"seq,omitempty"`
	// Count is how many: messages in a gap, undelivered messages, clients
	// warmed up, sessions forgotten.
	Count uint64 `json:"count,omitempty"`
	// Seqs lists sequence numbers (undelivered messages).
	Seqs      []uint64 `json:"seqs,omitempty"`
	BytesUp   int64    `json:"bytes_up,omitempty"`
	BytesDown int64    `json:"bytes_down,omitempty"`
	Reset     bool     `json:"reset,omitempty"`
	// LastDownMS, on the tap's close events, is when the tap last relayed
	// bytes towards the client (0 if it never did): the end of what the
	// client could observe of the connection.
	LastDownMS float64 `json:"last_down_ms,omitempty"`
	// Fault is the 1-based number of the fault in the schedule, on
	// fault-start and fault-end.
	Fault   int          `json:"fault,omitempty"`
	PID     int          `json:"pid,omitempty"`
	Packets *LinkPackets `json:"packets,omitempty"`
	// Text is for people: a note, an output line, an error message.
	Text string `json:"text,omitempty"`
}

// Teardown reports whether the event is the harness's doing rather than the
// client's: the client being stopped at the end of a run.
func (e *Event) Teardown() bool { return e.Cause == CauseStopped }

// String renders the event for people: its time, kind and typed fields.
func (e *Event) String() string {
	s := fmt.Sprintf("%.1f ms %s %s", e.TMS, e.Source, e.Kind)
	add := func(format string, args ...any) { s += " " + fmt.Sprintf(format, args...) }
	if e.Client != "" {
		add("%s", e.Client)
	}
	if e.Conn != 0 {
		add("conn %d", e.Conn)
	}
	if e.Cause != "" {
		add("cause %s", e.Cause)
	}
	if e.Code != 0 {
		add("code %s", e.Code)
	}
	if e.Status != 0 {
		add("status %d", e.Status)
	}
	if e.Reason != "" {
		add("%q", e.Reason)
	}
	if e.Attempt != 0 {
		add("attempt %d", e.Attempt)
	}
	if e.DelayMS != 0 {
		add("delay %.0f ms", e.DelayMS)
	}
	if e.HintMS != 0 {
		add("hint %.0f ms", e.HintMS)
	}
	if e.Seq != 0 {
		add("seq %d", e.Seq)
	}
	if e.Count != 0 {
		add("count %d", e.Count)
	}
	if e.Via != ViaSelf {
		add("(via %s)", e.Via)
	}
	if e.Text != "" {
		add("· %s", e.Text)
	}
	return s
}
