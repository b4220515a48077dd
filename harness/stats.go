package harness

import (
	"math"
	"slices"

	"github.com/wschaos/wschaos/result"
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
func Distribute(values []float64) result.Distribution {
	if len(values) == 0 {
		return result.Distribution{}
	}
	slices.Sort(values)
	return result.Distribution{
		N:   len(values),
		P50: Percentile(values, 50),
		P90: Percentile(values, 90),
		P99: Percentile(values, 99),
		Max: values[len(values)-1],
	}
}

// CDF returns at most points points of the empirical distribution of sorted
// values as shares of total (at least len(sorted): clients that never had
// the figure keep the curve below 1), always including the largest value.
// Equal values make one step.
func CDF(sorted []float64, total, points int) []result.CDFPoint {
	n := len(sorted)
	total = max(total, n)
	if n == 0 || points < 1 {
		return nil
	}
	step := max(1, int(math.Ceil(float64(n)/float64(points))))
	var out []result.CDFPoint
	add := func(i int) {
		p := result.CDFPoint{MS: sorted[i], Fraction: float64(i+1) / float64(total)}
		if k := len(out); k > 0 && out[k-1].MS == p.MS {
			out[k-1] = p
			return
		}
		out = append(out, p)
	}
	for i := step - 1; i < n; i += step {
		add(i)
	}
	if (n-1)%step != step-1 {
		add(n - 1)
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

// buckets counts times into windows of width from `from`, negative indexes
// before it, keeping only windows that hold something, in index order.
func buckets(times []float64, from, width float64) []result.Bucket {
	counts := map[int]int{}
	for _, t := range times {
		counts[int(math.Floor((t-from)/width))]++
	}
	out := make([]result.Bucket, 0, len(counts))
	for k, n := range counts {
		out = append(out, result.Bucket{Index: k, Count: n})
	}
	slices.SortFunc(out, func(a, b result.Bucket) int { return a.Index - b.Index })
	return out
}
