//go:build linux

package chaosnet

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSockDiag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	queued, ok := diagQueued(addr)
	require.True(t, ok, "sock_diag answers")
	assert.Empty(t, queued)

	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	queued, _ = diagQueued(addr)
	assert.Equal(t, map[netip.AddrPort]bool{local: true}, queued, "one connection waits in the queue")
	accepted, ok := diagAccepted(local, addr)
	require.True(t, ok)
	assert.False(t, accepted)

	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	accepted, ok = diagAccepted(local, addr)
	require.True(t, ok)
	assert.True(t, accepted)
	queued, _ = diagQueued(addr)
	assert.Empty(t, queued)
}
