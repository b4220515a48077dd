// Package echo is a plain WebSocket echo server: any RFC 6455 server, with
// nothing of wschaos in it. The echo-server example serves it, and wschaos's
// tests run `wschaos run --upstream` against it.
package echo

import (
	"net/http"

	"github.com/coder/websocket"
)

// Handler upgrades every request to a WebSocket and sends each message back
// as it came, text or binary. coder/websocket answers pings while Read
// waits, which is all a client's heartbeat needs.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept has answered the request with the error
		}
		defer ws.CloseNow()
		for {
			typ, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if err := ws.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
}
