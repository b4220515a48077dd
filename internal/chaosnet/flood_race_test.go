//go:build linux && race

package chaosnet

// floodTapOptions hold the tap to 200 connections under the race detector,
// which allows 8,128 live goroutines: each connection the chain holds costs
// about ten (tap 3, Toxiproxy 6, server 1), and the default 2,700 from one
// address would need 27,000.
var floodTapOptions = TapOptions{MaxConns: 200}
