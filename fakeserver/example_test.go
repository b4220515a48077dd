package fakeserver_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/coder/websocket"

	"github.com/wschaos/wschaos/fakeserver"
	"github.com/wschaos/wschaos/protocol"
)

func ExampleNew() {
	srv, err := fakeserver.New(fakeserver.Options{PushInterval: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()

	write := func(e protocol.Envelope) {
		b, _ := protocol.Encode(e)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			log.Fatal(err)
		}
	}
	read := func() protocol.Envelope {
		_, b, err := c.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		e, err := protocol.Decode(b)
		if err != nil {
			log.Fatal(err)
		}
		return e
	}

	write(protocol.Envelope{Type: protocol.TypeHello, ClientID: "c1"})
	w := read()
	fmt.Println(w.Type, "resumed:", w.Resumed, "from_seq:", w.FromSeq)
	for range 3 {
		m := read()
		fmt.Println(m.Type, m.Seq, m.Body)
	}

	// A fault on command: an abrupt close without a close frame.
	srv.DropAll()
	_, _, err = c.Read(ctx)
	fmt.Println("close status:", int(websocket.CloseStatus(err)), "(no close frame)")
	// Output:
	// welcome resumed: false from_seq: 1
	// msg 1 s1
	// msg 2 s2
	// msg 3 s3
	// close status: -1 (no close frame)
}
