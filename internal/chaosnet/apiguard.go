package chaosnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
)

// maxAPIBody bounds the request bodies the loopback guard reads. Toxiproxy
// reads bodies without a limit; a proxy or a populate list of a thousand
// proxies is far below this.
const maxAPIBody = 1 << 20

// loopbackOnly wraps the embedded Toxiproxy API so that no proxy can listen
// beyond loopback: creating a proxy (POST /proxies), populating proxies
// (POST /populate) or moving one (POST or PATCH /proxies/{name}) with a
// listen address that is not on 127.0.0.0/8, ::1 or localhost gets HTTP 400
// with Toxiproxy's JSON error body, before Toxiproxy sees the request.
//
// The API has no authentication, so any process on the machine can drive
// it; without the guard, any of them could open a relay that other machines
// reach through this process (listen 0.0.0.0:port).
//
// A create or populate entry without a listen address is refused too:
// Toxiproxy would listen on every interface. An update without one keeps the
// proxy's address, which the guard already vetted.
//
// The guard decodes the body as Toxiproxy does (encoding/json, first value,
// keys matched without regard to case), so both read the same address. A
// body that does not decode is passed on: Toxiproxy refuses it itself.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := proxyWrite(r)
		if op == "" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "bad request body: "+err.Error())
			return
		}
		if len(body) > maxAPIBody {
			writeAPIError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxAPIBody))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if msg := checkListens(op, body); msg != "" {
			writeAPIError(w, http.StatusBadRequest, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// The requests that set a proxy's listen address.
const (
	opCreate   = "create"
	opPopulate = "populate"
	opUpdate   = "update"
)

// proxyWrite names the request's operation if it can set a listen address,
// and returns "" otherwise. Paths are cleaned as gorilla/mux cleans them
// before routing (it redirects unclean ones instead of serving them).
func proxyWrite(r *http.Request) string {
	p := path.Clean("/" + r.URL.Path)
	switch {
	case r.Method == http.MethodPost && p == "/proxies":
		return opCreate
	case r.Method == http.MethodPost && p == "/populate":
		return opPopulate
	case (r.Method == http.MethodPost || r.Method == http.MethodPatch) &&
		strings.HasPrefix(p, "/proxies/") && !strings.Contains(p[len("/proxies/"):], "/"):
		return opUpdate
	}
	return ""
}

// checkListens returns why body may not be served, or "".
func checkListens(op string, body []byte) string {
	type entry struct {
		// A pointer tells an absent (or null) address from an empty one.
		Listen *string `json:"listen"`
	}
	var entries []entry
	dec := json.NewDecoder(bytes.NewReader(body))
	if op == opPopulate {
		if dec.Decode(&entries) != nil {
			return ""
		}
	} else {
		var e entry
		if dec.Decode(&e) != nil {
			return ""
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		if e.Listen == nil && op == opUpdate {
			continue // the address stays as it is
		}
		listen := ""
		if e.Listen != nil {
			listen = *e.Listen
		}
		if !isLoopbackListen(listen) {
			return fmt.Sprintf("listen address %q is not on loopback (127.0.0.0/8, ::1, localhost): "+
				"a proxy there would relay connections from other machines; "+
				"this embedded Toxiproxy refuses it unless remote proxies are allowed", listen)
		}
	}
	return ""
}

// isLoopbackListen reports whether listen is host:port with host on
// loopback: an address in 127.0.0.0/8 or ::1 (IPv4-mapped or not), or
// localhost. Any other host name is refused: it may resolve to anything.
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// writeAPIError answers as Toxiproxy answers its own errors, so its client
// reports "HTTP <status>: <msg>".
func writeAPIError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Message string `json:"error"`
		Status  int    `json:"status"`
	}{msg, status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
