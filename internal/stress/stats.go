package stress

import (
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// the nearest-rank method: the smallest value such that at least p% of the
// values are at or below it. It returns NaN for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Distribute sorts values in place and summarises them. For no values every
// field is 0 and N says so.
func Distribute(values []float64) Distribution {
	if len(values) == 0 {
		return Distribution{}
	}
	slices.Sort(values)
	return Distribution{
		N:   len(values),
		P50: Percentile(values, 50),
		P90: Percentile(values, 90),
		P99: Percentile(values, 99),
		Max: values[len(values)-1],
	}
}

// CDF returns at most points points of the empirical distribution of sorted
// values, always including the largest.
func CDF(sorted []float64, points int) []CDFPoint {
	n := len(sorted)
	if n == 0 || points < 1 {
		return nil
	}
	step := max(1, int(math.Ceil(float64(n)/float64(points))))
	var out []CDFPoint
	for i := step - 1; i < n; i += step {
		out = append(out, CDFPoint{MS: sorted[i], Fraction: float64(i+1) / float64(n)})
	}
	if out[len(out)-1].Fraction < 1 {
		out = append(out, CDFPoint{MS: sorted[n-1], Fraction: 1})
	}
	return out
}

// Histogram counts times (ms) into windows of width ms from `from`, up to
// `windows` windows; times before from or beyond the last window are not
// counted. Trailing empty windows are trimmed.
func Histogram(times []float64, from, width float64, windows int) []int {
	out := make([]int, windows)
	for _, t := range times {
		if t < from {
			continue
		}
		if w := int((t - from) / width); w < windows {
			out[w]++
		}
	}
	last := len(out)
	for last > 0 && out[last-1] == 0 {
		last--
	}
	return out[:last]
}
