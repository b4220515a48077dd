package segment

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// The segment's addresses: a private /24 that exists only inside the two
// userspace stacks. No packet to or from it reaches the kernel.
var (
	clientAddr = tcpip.AddrFrom4([4]byte{10, 66, 0, 1})
	serverAddr = tcpip.AddrFrom4([4]byte{10, 66, 0, 2})
)

const (
	nicID = 1
	// serverPort is where the server stack listens.
	serverPort = 80
	// linkQueue is how many packets a stack's channel endpoint holds for
	// the link's reader. The reader takes them without waiting on any
	// fault, so the queue only fills when the reader is starved of CPU;
	// then the stack drops the packet, as a NIC with a full ring does, and
	// TCP recovers. 1024 is a common NIC ring size.
	linkQueue = 1024
	// timeWait is the stacks' TIME_WAIT. Linux keeps 60s; a harness that
	// reconnects thousands of clients would keep that many endpoints for a
	// minute, and nothing in the segment sends late duplicates for longer
	// than a few seconds of Delay.
	timeWait = 5 * time.Second
)

// newStack builds a userspace IPv4/TCP stack with one NIC, a channel
// endpoint of the given MTU, holding addr.
func newStack(addr tcpip.Address, mtu int) (*stack.Stack, *channel.Endpoint, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	// No capabilities: no checksum offload, so the sending stack computes
	// checksums and the receiving one checks them (Corrupt relies on it);
	// no GSO, so every packet the link sees is at most the MTU, as on a
	// wire.
	ep := channel.New(linkQueue, uint32(mtu), "")
	if err := configure(s, ep, addr); err != nil {
		s.Destroy()
		return nil, nil, err
	}
	return s, ep, nil
}

func configure(s *stack.Stack, ep *channel.Endpoint, addr tcpip.Address) error {
	sack := tcpip.TCPSACKEnabled(true) // the default, stated: loss recovery as Linux does it
	// CUBIC, Linux's default congestion control, so windows grow and shrink
	// under loss as they do for a kernel client (gvisor defaults to Reno).
	cc := tcpip.CongestionControlOption("cubic")
	tw := tcpip.TCPTimeWaitTimeoutOption(timeWait)
	// Buffers: gvisor's defaults, 1 MiB send and receive, the receive side
	// auto-tuned up to 4 MiB, the range Linux's auto-tuning reaches on a
	// fast path, so windows are not what limits a transfer here unless a
	// fault makes them. They are limits, not allocations: an idle
	// connection holds none of it.
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &cc, &tw} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fmt.Errorf("segment: tcp option %T: %s", opt, err)
		}
	}
	if err := s.CreateNIC(nicID, ep); err != nil {
		return fmt.Errorf("segment: create nic: %s", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: addr.WithPrefix()}
	if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("segment: add address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})
	return nil
}

// stackConn is a connection of a userspace stack: gonet's net.Conn, plus
// its endpoint, which gonet hides and a relay needs to reset.
type stackConn struct {
	*gonet.TCPConn
	ep tcpip.Endpoint
}

// reset closes the connection with an RST, as a kernel socket with
// SO_LINGER 0 does.
func (c stackConn) reset() {
	c.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true})
	c.ep.Close()
}

// dialStack connects from stack s to the server stack's listener. It is
// gonet.DialContextTCP, keeping the endpoint.
func dialStack(ctx context.Context, s *stack.Stack) (stackConn, error) {
	var wq waiter.Queue
	ep, terr := s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return stackConn{}, fmt.Errorf("segment: dial: %s", terr)
	}
	entry, ready := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)

	terr = ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: serverAddr, Port: serverPort})
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Close()
			return stackConn{}, fmt.Errorf("segment: dial: %w", ctx.Err())
		case <-ready:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return stackConn{}, fmt.Errorf("segment: dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New(terr.String())})
	}
	return stackConn{gonet.NewTCPConn(&wq, ep), ep}, nil
}

// stackListener accepts connections on the server stack. gonet's listener
// would hide the endpoints.
type stackListener struct {
	ep    tcpip.Endpoint
	wq    waiter.Queue
	entry waiter.Entry
	ready chan struct{}
}

func listenStack(s *stack.Stack) (*stackListener, error) {
	l := &stackListener{}
	ep, terr := s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &l.wq)
	if terr != nil {
		return nil, fmt.Errorf("segment: listen: %s", terr)
	}
	if terr := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: serverAddr, Port: serverPort}); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("segment: listen: bind: %s", terr)
	}
	// The backlog of Linux's somaxconn: connections completed but not yet
	// accepted; a herd of reconnecting clients must not be refused here.
	if terr := ep.Listen(4096); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("segment: listen: %s", terr)
	}
	l.ep = ep
	l.entry, l.ready = waiter.NewChannelEntry(waiter.ReadableEvents)
	l.wq.EventRegister(&l.entry)
	return l, nil
}

// accept waits for the next connection; it fails when ctx ends or the
// listener is closed.
func (l *stackListener) accept(ctx context.Context) (stackConn, error) {
	for {
		ep, wq, terr := l.ep.Accept(nil)
		if terr == nil {
			return stackConn{gonet.NewTCPConn(wq, ep), ep}, nil
		}
		if _, ok := terr.(*tcpip.ErrWouldBlock); !ok {
			return stackConn{}, fmt.Errorf("segment: accept: %s", terr)
		}
		select {
		case <-ctx.Done():
			return stackConn{}, ctx.Err()
		case <-l.ready:
		}
	}
}

func (l *stackListener) close() {
	l.wq.EventUnregister(&l.entry)
	l.ep.Close()
}
