package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/client"
	"github.com/wschaos/wschaos/examples/echo-server/echo"
	"github.com/wschaos/wschaos/protocol"
)

// A plain client (the zero Options) against a plain echo server on
// 127.0.0.1 (examples/echo-server: coder/websocket, each message sent back,
// pings answered): ready on the upgrade, messages as they are.
func ExampleNew() {
	srv := httptest.NewServer(echo.Handler())
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.New("ws"+strings.TrimPrefix(srv.URL, "http"), client.Options{
		OnEvent: func(ev client.Event) {
			if ev.Kind == client.EventReady {
				fmt.Println("ready on the upgrade, conn", ev.Conn)
			}
		},
		OnMessage: func(m client.Message) {
			fmt.Printf("received %q (seq %d: plain messages carry none)\n", m.Body, m.Seq)
			cancel()
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("worst-case detection:", c.DetectionBound())

	// Send queues even before the connection exists; it is written once
	// the connection is ready.
	seq, err := c.Send(ctx, "hello")
	fmt.Println("queued, local seq", seq, err)

	err = c.Run(ctx)
	fmt.Println("run:", err, errors.Is(err, context.Canceled))
	// Output:
	// worst-case detection: 15s
	// queued, local seq 1 <nil>
	// ready on the upgrade, conn 1
	// received "hello" (seq 0: plain messages carry none)
	// run: context canceled true
}

// sessionEcho speaks the session protocol (package protocol): it welcomes,
// acknowledges each msg and sends its body back as a server msg.
func sessionEcho(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := r.Context()
	write := func(e protocol.Envelope) error {
		b, err := protocol.Encode(e)
		if err != nil {
			return err
		}
		return ws.Write(ctx, websocket.MessageText, b)
	}
	var seq uint64
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		e, err := protocol.Decode(b)
		if err != nil {
			return
		}
		switch e.Type {
		case protocol.TypeHello:
			err = write(protocol.Envelope{Type: protocol.TypeWelcome, Session: "s-1", ClientID: e.ClientID})
		case protocol.TypeMsg:
			seq++
			if err = write(protocol.Envelope{Type: protocol.TypeAck, Seq: e.Seq}); err == nil {
				err = write(protocol.Envelope{Type: protocol.TypeMsg, Seq: seq, Body: "echo: " + e.Body})
			}
		}
		if err != nil {
			return
		}
	}
}

// Session mode against a server that speaks the session protocol: ready on
// the welcome, messages numbered and acknowledged.
func ExampleNew_session() {
	srv := httptest.NewServer(http.HandlerFunc(sessionEcho))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.New("ws"+strings.TrimPrefix(srv.URL, "http"), client.Options{
		Session: true,
		OnEvent: func(ev client.Event) {
			if ev.Kind == client.EventReady {
				fmt.Println("ready, resumed:", ev.Resumed)
			}
		},
		OnMessage: func(m client.Message) {
			fmt.Printf("received %d %q\n", m.Seq, m.Body)
			cancel()
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	seq, err := c.Send(ctx, "hello")
	fmt.Println("queued seq", seq, err)

	err = c.Run(ctx)
	fmt.Println("run:", err, errors.Is(err, context.Canceled))
	// Output:
	// queued seq 1 <nil>
	// ready, resumed: false
	// received 1 "echo: hello"
	// run: context canceled true
}
