package memnet

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDialRefusedWhileNothingListens(t *testing.T) {
	n := New("srv")
	_, err := n.Dial(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Contains(t, err.Error(), "srv")

	ln, err := n.Listen()
	require.NoError(t, err)
	_, err = n.Listen()
	assert.ErrorIs(t, err, ErrListening)
	require.NoError(t, ln.Close())
	_, err = n.Dial(t.Context())
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "a closed listener refuses")
	require.NoError(t, ln.Close(), "closing again does nothing")
}

func TestDialAcceptCarriesBytesBothWays(t *testing.T) {
	n := New("srv")
	ln, err := n.Listen()
	require.NoError(t, err)
	defer ln.Close()
	assert.Equal(t, "memnet", ln.Addr().Network())
	assert.Equal(t, "srv", ln.Addr().String())

	c, err := n.Dial(t.Context()) // completes before Accept, into the backlog
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()

	go func() { _, _ = c.Write([]byte("hello")) }()
	buf := make([]byte, 5)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf))
	go func() { _, _ = s.Write([]byte("world")) }()
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "world", string(buf))

	require.NoError(t, s.Close())
	_, err = c.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "the server's close reaches the dialler")
}

func TestCloseEmptiesTheBacklogAndListenAgain(t *testing.T) {
	n := New("srv")
	ln, err := n.Listen()
	require.NoError(t, err)
	waiting, err := n.Dial(t.Context())
	require.NoError(t, err)
	defer waiting.Close()

	require.NoError(t, ln.Close())
	_, err = waiting.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "a connection never accepted is closed with the listener")
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)

	ln2, err := n.Listen()
	require.NoError(t, err, "the address is free again")
	defer ln2.Close()
	c, err := n.Dial(t.Context())
	require.NoError(t, err)
	defer c.Close()
	s, err := ln2.Accept()
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestFullBacklogBlocksDialUntilContextOrClose(t *testing.T) {
	n := New("srv")
	ln, err := n.Listen()
	require.NoError(t, err)
	conns := make([]net.Conn, 0, Backlog)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range Backlog {
		c, err := n.Dial(t.Context())
		require.NoError(t, err)
		conns = append(conns, c)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = n.Dial(ctx)
	assert.ErrorIs(t, err, context.Canceled, "a full backlog holds the dial until its context ends")

	blocked := make(chan error, 1)
	go func() {
		c, err := n.Dial(context.Background())
		if c != nil {
			_ = c.Close()
		}
		blocked <- err
	}()
	select {
	case err := <-blocked:
		t.Fatalf("a dial past a full backlog returned %v before the listener closed", err)
	default:
	}
	require.NoError(t, ln.Close())
	select {
	case err := <-blocked:
		assert.ErrorIs(t, err, syscall.ECONNREFUSED, "closing the listener refuses the waiting dial")
	case <-time.After(5 * time.Second):
		t.Fatal("a dial waiting on a full backlog outlived the listener")
	}
}

func TestAcceptEndsWithClose(t *testing.T) {
	n := New("srv")
	ln, err := n.Listen()
	require.NoError(t, err)
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		accepted <- err
	}()
	require.NoError(t, ln.Close())
	select {
	case err := <-accepted:
		assert.True(t, errors.Is(err, net.ErrClosed), "got %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Accept outlived Close")
	}
}
