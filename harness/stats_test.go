package harness

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wschaos/wschaos/result"
)

// The stats were the stress runner's; the catalogue's spread and the stress
// run's distributions now both come from here.

func TestPercentile(t *testing.T) {
	vals := []float64{}
	for i := 100; i >= 1; i-- {
		vals = append(vals, float64(i))
	}
	d := Distribute(vals)
	assert.Equal(t, result.Distribution{N: 100, P50: 50, P90: 90, P99: 99, Max: 100}, d)

	assert.True(t, math.IsNaN(Percentile(nil, 50)))
	assert.Equal(t, result.Distribution{}, Distribute(nil))
	one := Distribute([]float64{7})
	assert.Equal(t, result.Distribution{N: 1, P50: 7, P90: 7, P99: 7, Max: 7}, one)
	// Nearest rank: with 10 values, p99 is the largest.
	assert.Equal(t, 10.0, Percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99))
	assert.Equal(t, 5.0, Percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50))
}

func TestCDFAndHistogram(t *testing.T) {
	var vals []float64
	for i := 1; i <= 1000; i++ {
		vals = append(vals, float64(i))
	}
	cdf := CDF(vals, len(vals), 50)
	require.Len(t, cdf, 50)
	assert.Equal(t, result.CDFPoint{MS: 1000, Fraction: 1}, cdf[len(cdf)-1])
	assert.Equal(t, result.CDFPoint{MS: 20, Fraction: 0.02}, cdf[0])
	assert.Equal(t, []result.CDFPoint{{MS: 3, Fraction: 1}}, CDF([]float64{3}, 1, 50))
	// Clients that never had the figure keep the curve below 1.
	assert.Equal(t, []result.CDFPoint{{MS: 3, Fraction: 0.25}}, CDF([]float64{3}, 4, 50))
	assert.Equal(t, []result.CDFPoint{{MS: 3, Fraction: 1}}, CDF([]float64{3}, 0, 50), "total is at least the values")
	assert.Nil(t, CDF(nil, 5, 50))

	h := Histogram([]float64{5, 100, 150, 199, 250, 1000, -3}, 0, 100, 5)
	assert.Equal(t, []int{1, 3, 1}, h, "windows of 100 from 0; 1000 is past the last, -3 before the first")
	assert.Empty(t, Histogram(nil, 0, 100, 5))
}

func TestBoundWhy(t *testing.T) {
	b := NewBound(2*time.Second, "pending delay")
	assert.Equal(t, "pending delay; + allowance 225ms (10% of 2s + 25ms, for measurement and scheduling)", b.Why())
	b.Allowance, b.AllowanceReason = time.Second, "herd allowance, measured"
	assert.Equal(t, 3*time.Second, b.Limit())
	assert.Equal(t, "pending delay; + allowance 1s (herd allowance, measured)", b.Why())
	assert.Empty(t, b.Plus(OneHandshake(1)).AllowanceReason, "a sum has the standard allowance again")
}
