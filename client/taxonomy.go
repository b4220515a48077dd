package client

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wschaos/wschaos/result"
)

// Class says what a lost connection or a refused upgrade means for the next
// attempt. The table in the package documentation gives the class of every
// close code and HTTP status.
type Class = result.Class

// The classes.
const (
	// ClassRetry: reconnect after the normal backoff delay.
	ClassRetry = result.ClassRetry
	// ClassRetryHint: reconnect, but not before the server's hint (Retry-After,
	// or the reason of a 1013 or 4429 close), clamped to [Backoff.Initial,
	// HintMax]. A hint class without a hint waits Backoff.Max.
	ClassRetryHint = result.ClassRetryHint
	// ClassFatal: do not reconnect; Run returns a *FatalError.
	ClassFatal = result.ClassFatal
)

// Application close codes with a meaning in the taxonomy.
const (
	CodeLoggedOut       = 4401 // the session was logged out: fatal
	CodeForbidden       = 4403 // not allowed: fatal
	CodeTooManyRequests = 4429 // slow down: retry after the hint in the reason
	CodeReplaced        = 4440 // another connection replaced this one: fatal
)

// Classify is ClassifyClose with no reason.
func Classify(code int) (Class, time.Duration) {
	return ClassifyClose(code, "")
}

// ClassifyClose returns the class of a WebSocket close code and, for
// ClassRetryHint, the wait the server asked for in reason: a Go duration
// ("2s", "1500ms") or whole seconds ("5"). A hint of 0 means the server gave
// none (the client then waits Backoff.Max). Clamping is the caller's job.
func ClassifyClose(code int, reason string) (Class, time.Duration) {
	switch {
	case code == 1008, code == CodeLoggedOut, code == CodeForbidden, code == CodeReplaced:
		return ClassFatal, 0
	case code == 1013, code == CodeTooManyRequests:
		return ClassRetryHint, parseHint(reason)
	}
	// 1000, 1001, 1002, 1003, 1006, 1007, 1009, 1010, 1011, 1012, other
	// 4000-4999 and anything unknown: the next connection may well work.
	return ClassRetry, 0
}

// ClassifyHTTP returns the class of an HTTP status that refused the
// WebSocket upgrade and, for ClassRetryHint, the wait given by retryAfter
// (the Retry-After header: delay-seconds or an HTTP date). A hint of 0 means
// none was given or it could not be parsed.
func ClassifyHTTP(status int, retryAfter string) (Class, time.Duration) {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ClassFatal, 0
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return ClassRetryHint, parseRetryAfter(retryAfter, time.Now())
	}
	// 428 and every other status: a proxy or server hiccup, retry.
	return ClassRetry, 0
}

// minHint stands for "retry now" from a server (Retry-After: 0 or a date in
// the past): positive, so it is not mistaken for "no hint"; the clamp raises
// it to Backoff.Initial.
const minHint = time.Millisecond

func parseHint(s string) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return secondsHint(n)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0
	}
	return max(d, minHint)
}

func parseRetryAfter(s string, now time.Time) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return secondsHint(n)
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0
	}
	return max(t.Sub(now), minHint)
}

// secondsHint converts whole seconds without overflow; the client clamps to
// HintMax anyway.
func secondsHint(n int64) time.Duration {
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	switch {
	case n < 0:
		return 0
	case n == 0:
		return minHint
	case n > maxSeconds:
		return time.Duration(maxSeconds) * time.Second
	}
	return time.Duration(n) * time.Second
}
