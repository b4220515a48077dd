// Package protocol defines the wire envelope spoken by the reference client
// (package client) and the fake server (package fakeserver).
//
// Every envelope is one WebSocket text message holding one JSON object with a
// "type" field. Sequence numbers start at 1 and count each direction
// separately: client-to-server messages carry the client's sequence, and
// server-to-client messages carry the server's. Acknowledgements are
// cumulative: "ack" with seq N acknowledges every message up to and including N.
//
// A connection starts with hello and welcome:
//
//	client: {"type":"hello","client_id":"c1"}
//	server: {"type":"welcome","session":"s-7f3a","client_id":"c1"}
//
// To resume after a reconnect the client names its session and the last
// server sequence it received; the server answers whether it resumed, the last
// client sequence it holds (so the client resends only what follows), and the
// first server sequence it will send next:
//
//	client: {"type":"hello","client_id":"c1","session":"s-7f3a","last_seq":41}
//	server: {"type":"welcome","session":"s-7f3a","client_id":"c1","resumed":true,"ack":17,"from_seq":42}
//
// When the server no longer holds everything the client missed (its resume
// window expired, or it restarted without state), it says so with a gap: the
// number of server messages that are lost for good. Delivery goes on from
// from_seq:
//
//	server: {"type":"welcome","session":"s-9b01","client_id":"c1","resumed":false,"from_seq":120,"gap":78}
//
// Application messages and acknowledgements, in either direction:
//
//	{"type":"msg","seq":18,"body":"order 18"}
//	{"type":"ack","seq":18}
//
// An echo is an application-level round trip: the server answers each echo
// with the same id and body. The harness uses it to time recovery.
//
//	client: {"type":"echo","id":3}
//	server: {"type":"echo","id":3}
//
// Decode rejects anything that is not a well-formed envelope with an error
// wrapping ErrMalformed; it never panics, whatever the input (see the fuzz
// target and its corpus under testdata/).
package protocol
