//go:build !linux

package chaosnet

import "net/netip"

// Without sock_diag the watchdog cannot see a proxy's accept queue: it
// judges a proxy by its dial alone (refused, or timed out on a full queue).

func diagAccepted(local, remote netip.AddrPort) (accepted, ok bool) { return false, false }

func diagQueued(addr netip.AddrPort) (queued map[netip.AddrPort]bool, ok bool) { return nil, false }
