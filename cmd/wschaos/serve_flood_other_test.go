//go:build !linux

package main

// floodChild is false: the flood test runs only on Linux.
func floodChild() bool { return false }
