// Package shed answers and closes a connection that a component of the
// chain (the wire tap, the fake server) will not hold: over a limit, or out
// of descriptors.
package shed

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Linger bounds how long a shed connection is held after its answer (see
// Close).
const Linger = 250 * time.Millisecond

// Response renders the minimal HTTP/1.1 answer a connection is shed with:
// status, Retry-After, Connection: close and a one-line reason, prefixed
// with who sheds it ("wschaos tap", "fakeserver"). A WebSocket client reads
// it as a refused upgrade.
func Response(status int, who, reason string, retryAfter time.Duration) []byte {
	body := who + ": " + reason + "\n"
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nRetry-After: %s\r\nConnection: close\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), RetryAfter(retryAfter), len(body), body)
}

// RetryAfter renders d as a Retry-After value: whole seconds, rounded up,
// at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// Close writes answer (if any) to c, half-closes it and, if drain is set,
// reads what the client still sends until it closes or Linger runs out,
// then closes c. The wait makes the close a FIN that follows the answer:
// closing with the client's request unread would send a reset, which can
// destroy the answer before the client reads it. Callers bound how many
// connections drain at once, each holding a descriptor for up to Linger.
func Close(c net.Conn, answer []byte, drain bool) {
	_ = c.SetDeadline(time.Now().Add(Linger))
	if len(answer) > 0 {
		_, _ = c.Write(answer)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	if drain {
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}
	_ = c.Close()
}
