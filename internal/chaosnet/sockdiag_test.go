//go:build linux

package chaosnet

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSockDiag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	n, ok := diagAcceptQueue(addr)
	require.True(t, ok, "sock_diag answers")
	assert.Equal(t, 0, n)

	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	deadline := time.Now().Add(ioTimeout)
	for n, _ = diagAcceptQueue(addr); n != 1 && time.Now().Before(deadline); n, _ = diagAcceptQueue(addr) {
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, 1, n, "one connection waits in the queue")
	accepted, ok := diagAccepted(local, addr)
	require.True(t, ok)
	assert.False(t, accepted)

	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	accepted, ok = diagAccepted(local, addr)
	require.True(t, ok)
	assert.True(t, accepted)
	n, _ = diagAcceptQueue(addr)
	assert.Equal(t, 0, n)
}
