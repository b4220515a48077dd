//go:build !linux

package chaosnet

import "net/netip"

// Without sock_diag the watchdog cannot see a proxy's accept queue: it
// judges a proxy by its dial alone (refused, or timed out on a full queue).

func diagAccepted(local, remote netip.AddrPort) (accepted, ok bool) { return false, false }

func diagAcceptQueue(addr netip.AddrPort) (n int, ok bool) { return 0, false }
