//go:build !unix

package stress

// fdLimit is unknown here.
func fdLimit() int64 { return 0 }

// cpuAndRSS is unknown here.
func cpuAndRSS() (float64, int64) { return 0, 0 }
