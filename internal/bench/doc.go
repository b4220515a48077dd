// Package bench holds the performance benchmarks behind the README's
// "Performance figures". Each figure is measured side by side in one run, as
// a ratio or a per-connection count, because absolute times on a shared
// machine are noise:
//
//   - BenchmarkRoundTrip: a loopback round trip through the embedded
//     Toxiproxy proxy against the same round trip direct, interleaved, for
//     a small TCP echo and a WebSocket echo (the fake server's raw echo).
//   - BenchmarkFootprint: heap bytes, stack bytes, goroutines and file
//     descriptors per connection for the reference client, the fake server,
//     a Toxiproxy proxy and the wire tap. The far ends run in a helper
//     process (this test binary, re-executed), so each figure counts one
//     component only.
//   - BenchmarkMeasurementError: the harness's measurements against the
//     ground truth of package groundtruth.
//   - BenchmarkMassRecovery: clients recovered per second after 200 clients
//     lose the proxy at once and come back in one herd.
//
// Run them with `make bench`, which prints the table of medians
// (internal/cmd/benchratio), or directly:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/bench/...
package bench
