//go:build linux

package chaosnet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
)

// The accept-loop watchdog asks the kernel's socket diagnostics (sock_diag
// over netlink, what ss(8) uses) two things about a proxy's listener in
// this network namespace: whether the connection it dialled has been
// accepted (the listener's end of it is owned by a file), and how many
// connections wait in the listener's accept queue.

const (
	sockDiagByFamily    = 20         // SOCK_DIAG_BY_FAMILY
	tcpStateEstablished = 1          // TCP_ESTABLISHED
	tcpStateCloseWait   = 8          // TCP_CLOSE_WAIT
	tcpStateListen      = 10         // TCP_LISTEN
	diagNoCookie        = ^uint32(0) // INET_DIAG_NOCOOKIE
	diagReqLen          = 56         // struct inet_diag_req_v2
	diagMsgLen          = 72         // struct inet_diag_msg
	nlHeaderLen         = 16         // struct nlmsghdr
)

// diagAccepted reports whether the listener that local dialled (remote) has
// accepted that connection. ok is false when the kernel could not say.
func diagAccepted(local, remote netip.AddrPort) (accepted, ok bool) {
	// The listener's end of the connection: source remote, destination local.
	msgs, err := sockDiag(remote, local, ^uint32(0), false)
	switch {
	case errors.Is(err, syscall.ENOENT):
		return true, true // gone: accepted and closed already
	case err != nil || len(msgs) == 0:
		return false, false
	}
	// Waiting in the queue, the listener's end is established and owned by
	// no file; once accepted it has an inode, and once closed it has left
	// the established state.
	state, inode := msgs[0][1], binary.NativeEndian.Uint32(msgs[0][68:72])
	return inode != 0 || state != tcpStateEstablished, true
}

// diagQueued returns the connections waiting in the accept queue of the
// listener at addr, by their remote address: the listener's ends that are
// established (or half-closed by their client) and owned by no file. ok is
// false when the kernel could not say. It lists every TCP connection of
// the network namespace, tens of thousands under a flood, so the watchdog
// asks only when a probe found nothing accepted.
func diagQueued(addr netip.AddrPort) (queued map[netip.AddrPort]bool, ok bool) {
	states := uint32(1<<tcpStateEstablished | 1<<tcpStateCloseWait)
	msgs, err := sockDiag(netip.AddrPortFrom(addr.Addr(), 0), netip.AddrPort{}, states, true)
	if err != nil {
		return nil, false
	}
	queued = make(map[netip.AddrPort]bool)
	for _, m := range msgs {
		if binary.BigEndian.Uint16(m[4:6]) != addr.Port() || !addrBytesEqual(addr.Addr(), m[8:24]) ||
			binary.NativeEndian.Uint32(m[68:72]) != 0 {
			continue
		}
		var remote netip.Addr
		if addr.Addr().Unmap().Is4() {
			remote = netip.AddrFrom4([4]byte(m[24:28]))
		} else {
			remote = netip.AddrFrom16([16]byte(m[24:40]))
		}
		queued[netip.AddrPortFrom(remote, binary.BigEndian.Uint16(m[6:8]))] = true
	}
	return queued, true
}

func addrBytesEqual(a netip.Addr, b []byte) bool {
	a = a.Unmap()
	if a.Is4() {
		v := a.As4()
		return string(v[:]) == string(b[:4])
	}
	v := a.As16()
	return string(v[:]) == string(b[:16])
}

// sockDiag sends one inet_diag_req_v2 for TCP sockets with source src and
// destination dst (all of them, filtered by states, with dump) and returns
// the inet_diag_msg answers.
func sockDiag(src, dst netip.AddrPort, states uint32, dump bool) ([][]byte, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 1}
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)

	req := make([]byte, nlHeaderLen+diagReqLen)
	flags := uint16(syscall.NLM_F_REQUEST)
	if dump {
		flags |= syscall.NLM_F_DUMP
	}
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:8], flags)
	binary.NativeEndian.PutUint32(req[8:12], 1) // seq
	body := req[nlHeaderLen:]
	body[0] = syscall.AF_INET
	if !src.Addr().Unmap().Is4() {
		body[0] = syscall.AF_INET6
	}
	body[1] = syscall.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:8], states)
	binary.BigEndian.PutUint16(body[8:10], src.Port())
	binary.BigEndian.PutUint16(body[10:12], dst.Port())
	putAddr(body[12:28], src.Addr())
	putAddr(body[28:44], dst.Addr())
	binary.NativeEndian.PutUint32(body[48:52], diagNoCookie)
	binary.NativeEndian.PutUint32(body[52:56], diagNoCookie)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, err
	}
	return readDiag(fd, dump)
}

func putAddr(b []byte, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	a = a.Unmap()
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
		return
	}
	v := a.As16()
	copy(b, v[:])
}

// readDiag reads inet_diag_msg answers until NLMSG_DONE (a dump) or the
// first answer (a lookup). A lookup that finds nothing answers ENOENT.
func readDiag(fd int, dump bool) ([][]byte, error) {
	var out [][]byte
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return out, nil
			case syscall.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
						return nil, syscall.Errno(-code)
					}
				}
				return out, nil
			case sockDiagByFamily:
				if len(m.Data) < diagMsgLen {
					return nil, errors.New("short inet_diag_msg")
				}
				out = append(out, append([]byte(nil), m.Data[:diagMsgLen]...))
			}
		}
		if !dump {
			return out, nil
		}
	}
}
