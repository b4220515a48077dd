//go:build linux && !race

package chaosnet

// floodTapOptions are the defaults: the flood test checks the limits the tap
// derives from the descriptor limit.
var floodTapOptions = TapOptions{}
