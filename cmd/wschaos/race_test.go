//go:build race

package main

// raceScale stretches the catalogue under the race detector, as the
// scenarios package does: the same scenarios with every duration, and so
// every target, multiplied.
const raceScale = "3"
