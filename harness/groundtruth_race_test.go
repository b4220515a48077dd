//go:build race

package harness_test

// groundTruthScale stretches the ground-truth scenarios under the race
// detector, as the scenarios package does: every duration, and so every
// truth and tolerance, is multiplied.
const groundTruthScale = 3
