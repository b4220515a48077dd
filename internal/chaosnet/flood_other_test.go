//go:build !linux

package chaosnet

// floodChild is false: the flood test counts descriptors in /proc and runs
// only on Linux.
func floodChild() bool { return false }
