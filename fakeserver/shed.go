package fakeserver

import (
	"fmt"
	"net"
	"net/http"

	"github.com/wschaos/wschaos/internal/fdlimit"
	"github.com/wschaos/wschaos/internal/shed"
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

// maxShedLingering bounds how many shed connections wait for their client's
// close at once (see shed.Close); past it they are closed at once.
const maxShedLingering = 256

// shed answers a TCP connection over MaxTCPConns with a minimal 503 and
// closes it, off the accept loop. It emits a shed event.
func (s *Server) shed(c net.Conn, id uint64) {
	reason := fmt.Sprintf("over the server's limit of %d connections", s.opts.MaxTCPConns)
	s.emit(Event{Kind: result.KindShed, Conn: id, Status: http.StatusServiceUnavailable, Reason: reason, Remote: c.RemoteAddr().String()})
	var answer []byte
	if s.tlsConf == nil { // over TLS the answer would be noise
		answer = shed.Response(http.StatusServiceUnavailable, "fakeserver", reason, s.opts.LimitRetryAfter)
	}
	s.mu.Lock()
	drain := !s.closed && s.shedding < maxShedLingering
	if drain {
		s.shedding++
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		shed.Close(c, answer, drain)
		if drain {
			s.mu.Lock()
			s.shedding--
			s.mu.Unlock()
		}
	}()
}
