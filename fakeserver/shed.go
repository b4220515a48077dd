package fakeserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wschaos/wschaos/internal/fdlimit"
	"github.com/wschaos/wschaos/result"
)

// defaultMaxTCPConns is a quarter of the process's descriptor limit, or
// 1,000 where there is none (see Options.MaxTCPConns).
func defaultMaxTCPConns() int {
	if n, ok := fdlimit.Soft(); ok {
		return max(1, n/4)
	}
	return 1000
}

// shedLinger bounds how long a shed connection is held so that the client
// reads the 503 before the FIN: closing with its request unread would send
// a reset. maxShedLingering bounds how many linger at once; past it they
// are closed at once.
const (
	shedLinger       = 250 * time.Millisecond
	maxShedLingering = 256
)

// shed answers a TCP connection over MaxTCPConns with a minimal 503 and
// closes it, off the accept loop. It emits a shed event.
func (s *Server) shed(c net.Conn, id uint64) {
	reason := fmt.Sprintf("over the server's limit of %d connections", s.opts.MaxTCPConns)
	s.emit(Event{Kind: result.KindShed, Conn: id, Status: http.StatusServiceUnavailable, Reason: reason, Remote: c.RemoteAddr().String()})
	s.mu.Lock()
	linger := !s.closed && s.shedding < maxShedLingering
	if linger {
		s.shedding++
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if !linger {
		_ = c.Close()
		return
	}
	go func() {
		defer s.wg.Done()
		_ = c.SetDeadline(time.Now().Add(shedLinger))
		if s.tlsConf == nil { // over TLS the answer would be noise
			body := "fakeserver: " + reason + "\n"
			_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nConnection: close\r\n"+
				"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s",
				retryAfterSeconds(s.opts.LimitRetryAfter), len(body), body)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
		_ = c.Close()
		s.mu.Lock()
		s.shedding--
		s.mu.Unlock()
	}()
}
