//go:build !race

package harness_test

const groundTruthScale = 1
