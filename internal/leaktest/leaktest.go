// Package leaktest holds the goroutine-leak exceptions shared by the test
// mains of every package that runs Toxiproxy in-process.
package leaktest

import "go.uber.org/goleak"

// Toxiproxy returns goleak options that ignore goroutines Toxiproxy v2.12.0
// leaks by itself. Its latency and noop toxics send their last chunk on an
// unbuffered channel without watching for the link closing
// (toxics/latency.go and toxics/noop.go, "stub.Output <- c"): when a client
// drops a connection while a chunk is in flight, that goroutine blocks for
// the life of the process. They hold no socket; our own goroutines are
// still checked.
func Toxiproxy() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*LatencyToxic).Pipe"),
		goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe"),
	}
}
