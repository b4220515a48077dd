package client

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// One row per entry of the table in the package documentation.
func TestClassifyClose(t *testing.T) {
	tests := []struct {
		code   int
		reason string
		class  Class
		hint   time.Duration
	}{
		{1000, "", ClassRetry, 0},
		{1001, "", ClassRetry, 0},
		{1002, "", ClassRetry, 0},
		{1003, "", ClassRetry, 0},
		{1006, "", ClassRetry, 0},
		{1007, "", ClassRetry, 0},
		{1008, "", ClassFatal, 0},
		{1009, "", ClassRetry, 0},
		{1010, "", ClassRetry, 0},
		{1011, "", ClassRetry, 0},
		{1012, "", ClassRetry, 0},
		{1013, "2s", ClassRetryHint, 2 * time.Second},
		{1013, "5", ClassRetryHint, 5 * time.Second},
		{1013, " 1500ms ", ClassRetryHint, 1500 * time.Millisecond},
		{1013, "0", ClassRetryHint, minHint},
		{1013, "", ClassRetryHint, 0},
		{1013, "later", ClassRetryHint, 0},
		{1013, "-3s", ClassRetryHint, 0},
		{1013, "-3", ClassRetryHint, 0},
		{1013, "99999999999999999", ClassRetryHint, time.Duration(int64(1<<63-1)/int64(time.Second)) * time.Second},
		{4401, "logged out", ClassFatal, 0},
		{4403, "", ClassFatal, 0},
		{4440, "replaced", ClassFatal, 0},
		{4429, "3s", ClassRetryHint, 3 * time.Second},
		{4000, "", ClassRetry, 0},
		{4999, "", ClassRetry, 0},
		{3000, "", ClassRetry, 0},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code)+"/"+tt.reason, func(t *testing.T) {
			class, hint := ClassifyClose(tt.code, tt.reason)
			assert.Equal(t, tt.class, class)
			assert.Equal(t, tt.hint, hint)
		})
	}
	class, _ := Classify(4440)
	assert.Equal(t, ClassFatal, class)
}

func TestClassifyHTTP(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		status     int
		retryAfter string
		class      Class
		hint       time.Duration // exact unless approx
		approx     bool
	}{
		{401, "", ClassFatal, 0, false},
		{403, "", ClassFatal, 0, false},
		{428, "", ClassRetry, 0, false},
		{429, "7", ClassRetryHint, 7 * time.Second, false},
		{429, "", ClassRetryHint, 0, false},
		{503, "120", ClassRetryHint, 2 * time.Minute, false},
		{503, future, ClassRetryHint, time.Hour, true},
		{503, past, ClassRetryHint, minHint, false},
		{503, "soon", ClassRetryHint, 0, false},
		{400, "", ClassRetry, 0, false},
		{404, "", ClassRetry, 0, false},
		{500, "", ClassRetry, 0, false},
		{502, "", ClassRetry, 0, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status)+"/"+tt.retryAfter, func(t *testing.T) {
			class, hint := ClassifyHTTP(tt.status, tt.retryAfter)
			assert.Equal(t, tt.class, class)
			if tt.approx {
				assert.InDelta(t, float64(tt.hint), float64(hint), float64(2*time.Second))
			} else {
				assert.Equal(t, tt.hint, hint)
			}
		})
	}
}

// The client clamps hints to [Backoff.Initial, HintMax] and falls back to
// Backoff.Max when a hint class came without a hint.
func TestHintClamps(t *testing.T) {
	c, err := New("ws://x/", Options{Backoff: Backoff{Initial: 200 * time.Millisecond, Max: 8 * time.Second, NoJitter: true}, HintMax: 30 * time.Second})
	assert.NoError(t, err)
	c.attempt.Store(1)
	tests := []struct {
		hint, wantHint time.Duration
	}{
		{minHint, 200 * time.Millisecond},
		{3 * time.Second, 3 * time.Second},
		{time.Hour, 30 * time.Second},
		{0, 8 * time.Second},
	}
	for _, tt := range tests {
		d, h := c.nextDelay(connEnd{class: ClassRetryHint, hint: tt.hint})
		assert.Equal(t, tt.wantHint, h, "hint %v", tt.hint)
		assert.Equal(t, tt.wantHint, d, "delay for hint %v", tt.hint)
	}
	// A backoff delay longer than the hint wins.
	c.attempt.Store(10)
	d, _ := c.nextDelay(connEnd{class: ClassRetryHint, hint: time.Second})
	assert.Equal(t, 8*time.Second, d)
}

func TestStrings(t *testing.T) {
	assert.Equal(t, []Class{"retry", "retry-hint", "fatal"}, []Class{ClassRetry, ClassRetryHint, ClassFatal})
	assert.Equal(t, []string{"idle", "connecting", "ready", "backoff", "stopped"},
		[]string{StateIdle.String(), StateConnecting.String(), StateReady.String(), StateBackoff.String(), StateStopped.String()})
	assert.Equal(t, "client: fatal http status 401: not retrying", (&FatalError{Cause: CauseHTTPStatus, Status: 401}).Error())
	assert.Equal(t, "client: fatal close 4440 (replaced): not retrying; 2 accepted messages undelivered (seq 7..8)",
		(&FatalError{Cause: CauseCloseFrame, Code: 4440, Reason: "replaced", Undelivered: []Message{{Seq: 7}, {Seq: 8}}}).Error())
}
