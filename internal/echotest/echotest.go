// Package echotest is an echo server, on loopback TCP or any listener, for
// tests and benchmarks.
package echotest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// TCP starts a loopback TCP echo server and returns its address. Cleanup
// closes it and every connection, and waits for its goroutines.
func TCP(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	Serve(tb, ln)
	return ln.Addr().String()
}

// Serve echoes on every connection ln accepts. Cleanup closes ln and every
// connection, and waits for its goroutines.
func Serve(tb testing.TB, ln net.Listener) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c); _ = c.Close() })
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}
