package chaosnet

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiRequest sends body to the embedded API as the official client does and
// returns the status and the body of the answer.
func apiRequest(t *testing.T, tp *Toxiproxy, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(apiCtx(t), method, tp.URL()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("User-Agent", "toxiproxy-cli")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestEmbeddedRefusesRemoteProxyOnCreate(t *testing.T) {
	tp := newEmbedded(t)
	upstream := newEchoServer(t).Addr()
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:0", "127.0.0.1"} {
		_, err := tp.NewProxyOn(apiCtx(t), "remote", listen, upstream)
		var apiErr *toxiclient.ApiError
		require.ErrorAs(t, err, &apiErr, "listen %q", listen)
		assert.Equal(t, http.StatusBadRequest, apiErr.Status, "listen %q", listen)
		assert.Contains(t, apiErr.Message, "not on loopback", "listen %q", listen)
	}
	// Toxiproxy listens on every interface when the address is left out.
	status, body := apiRequest(t, tp, http.MethodPost, "/proxies", `{"name":"nolisten","upstream":"`+upstream+`"}`)
	assert.Equal(t, http.StatusBadRequest, status, body)
	// encoding/json matches keys without regard to case; so does the guard.
	status, body = apiRequest(t, tp, http.MethodPost, "/proxies", `{"name":"upper","LISTEN":"0.0.0.0:0","upstream":"`+upstream+`"}`)
	assert.Equal(t, http.StatusBadRequest, status, body)
	status, body = apiRequest(t, tp, http.MethodPost, "/populate",
		`[{"name":"ok","listen":"127.0.0.1:0","upstream":"`+upstream+`"},{"name":"bad","listen":"0.0.0.0:0","upstream":"`+upstream+`"}]`)
	assert.Equal(t, http.StatusBadRequest, status, body)
	status, body = apiRequest(t, tp, http.MethodGet, "/proxies", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "{}", body, "no proxy may have been created")

	for _, listen := range []string{"127.0.0.1:0", "127.3.2.1:0", "localhost:0", "[::1]:0", "[::ffff:127.0.0.1]:0"} {
		p, err := tp.NewProxyOn(apiCtx(t), "local-"+strings.NewReplacer(":", "", ".", "", "[", "", "]", "").Replace(listen), listen, upstream)
		require.NoError(t, err, "listen %q", listen)
		roundTrip(t, dial(t, p.Addr()), "hello")
	}
}

func TestEmbeddedRefusesRemoteProxyOnUpdate(t *testing.T) {
	tp := newEmbedded(t)
	p := newProxy(t, tp, newEchoServer(t).Addr())
	for _, method := range []string{http.MethodPatch, http.MethodPost} {
		status, body := apiRequest(t, tp, method, "/proxies/"+p.Name(), `{"listen":"0.0.0.0:0"}`)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.Contains(t, body, "not on loopback")
	}
	// An update that leaves the address alone, or keeps it on loopback, is
	// served.
	require.NoError(t, p.Disable(apiCtx(t)))
	require.NoError(t, p.Enable(apiCtx(t)))
	status, body := apiRequest(t, tp, http.MethodPatch, "/proxies/"+p.Name(), `{"listen":"`+p.Addr()+`"}`)
	assert.Equal(t, http.StatusOK, status, body)
	roundTrip(t, dial(t, p.Addr()), "still here")
}

func TestEmbeddedAllowRemoteProxies(t *testing.T) {
	tp, err := StartToxiproxyWith(context.Background(), ToxiproxyOptions{AllowRemoteProxies: true})
	require.NoError(t, err)
	defer tp.Close()
	// Bound only: no traffic leaves loopback.
	_, err = tp.NewProxyOn(apiCtx(t), "anywhere", "0.0.0.0:0", newEchoServer(t).Addr())
	require.NoError(t, err)
}

func TestIsLoopbackListen(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:80": true, "127.255.0.9:0": true, "[::1]:0": true, "LocalHost:1": true,
		"[::ffff:127.0.0.2]:0": true, "0.0.0.0:0": false, ":80": false, "10.0.0.1:0": false,
		"[::]:0": false, "localhost": false, "": false, "myhost:80": false, "[fe80::1%lo]:0": false,
	} {
		assert.Equal(t, want, isLoopbackListen(listen), "%q", listen)
	}
}

func TestLoopbackURL(t *testing.T) {
	for url, want := range map[string]bool{
		"http://127.0.0.1:8474": true, "http://localhost:8474/": true, "http://[::1]:8474": true,
		"http://127.0.0.1": true, "http://10.1.2.3:8474": false, "http://toxi.example:8474": false,
	} {
		assert.Equal(t, want, loopbackURL(url), "%s", url)
	}
}
