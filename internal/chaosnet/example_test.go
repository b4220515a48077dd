package chaosnet_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"syscall"

	"github.com/wschaos/wschaos/internal/chaosnet"
)

// Example resets a live connection: client -> tap -> proxy -> echo server.
func Example() {
	ctx := context.Background()

	// An echo server stands in for the fake WebSocket server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { io.Copy(c, c); c.Close() })
		}
	})

	tp, err := chaosnet.StartToxiproxy(ctx, "") // embedded
	if err != nil {
		log.Fatal(err)
	}
	defer tp.Close()
	p, err := tp.NewProxy(ctx, "example", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	// Armed before the client connects, so that it can reset the connection.
	if err := p.AddToxic(ctx, chaosnet.Toxic{Name: "rst", Type: "reset_peer", Armed: true}); err != nil {
		log.Fatal(err)
	}
	tap, err := chaosnet.NewTap(p.Addr(), func(ev chaosnet.TapEvent) {
		fmt.Println(ev.Conn, ev.Kind, ev.BytesUp, ev.BytesDown, ev.Reset)
	})
	if err != nil {
		log.Fatal(err)
	}

	c, err := net.Dial("tcp", tap.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	c.Write([]byte("hi"))
	io.ReadFull(c, buf)

	if err := p.Activate(ctx, "rst"); err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("x")) // its echo is the chunk reset_peer acts on
	_, err = c.Read(buf)
	tap.Close() // waits for the last event
	fmt.Println("client reset:", errors.Is(err, syscall.ECONNRESET))

	// Output:
	// 1 tap-connect 0 0 false
	// 1 tap-upstream-close 3 2 true
	// 1 tap-closed 3 2 true
	// client reset: true
}
