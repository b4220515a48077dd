// Package scenarios holds the built-in catalogue (Catalog) and the go test
// suites that run it against the reference client:
//
//	go test ./scenarios/...                          # every scenario
//	go test ./scenarios/... -run 'TestCatalog/BlackHoleHalfOpen'
//
// A scenario is data: a client profile, a fault schedule and checks whose
// targets are derived from the profile (see Profile), never picked by hand.
// Set TOXIPROXY_URL to run the same suite through an external
// toxiproxy-server.
package scenarios
