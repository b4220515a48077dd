//go:build race

package scenarios

// raceScale stretches the catalogue under the race detector, which slows
// the code it instruments several times over: the same scenarios, with
// every duration and so every target multiplied, rather than retries.
const raceScale = 3
