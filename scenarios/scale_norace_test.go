//go:build !race

package scenarios

const raceScale = 1
