package shed

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestResponse(t *testing.T) {
	b := Response(http.StatusServiceUnavailable, "wschaos tap", "over the limit", 1500*time.Millisecond)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !resp.Close || string(body) != "wschaos tap: over the limit\n" {
		t.Errorf("got %d, Retry-After %q, close %v, body %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close, body)
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", 30 * time.Second: "30"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
