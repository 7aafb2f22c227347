// Package slope fits robust growth rates to resource-count series.
package slope

import (
	"math"
	"slices"
)

// TheilSen returns the Theil–Sen estimate of the slope of y over x: the
// median of the slopes between every pair of points with distinct x. It
// ignores up to ~29% of arbitrary outliers, so a spike or a plateau reached
// early does not read as growth. ok is false with fewer than two distinct x.
//
// For n points it looks at n(n-1)/2 pairs; above maxPairs points it thins
// the series evenly first, which keeps the cost bounded for long soaks.
func TheilSen(x, y []float64) (slope float64, ok bool) {
	if len(x) != len(y) {
		return 0, false
	}
	x, y = thin(x, y, maxPoints)
	slopes := make([]float64, 0, len(x)*(len(x)-1)/2)
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			dx := x[j] - x[i]
			if dx == 0 || math.IsNaN(dx) || math.IsNaN(y[j]-y[i]) {
				continue
			}
			slopes = append(slopes, (y[j]-y[i])/dx)
		}
	}
	if len(slopes) == 0 {
		return 0, false
	}
	return median(slopes), true
}

// maxPoints bounds the pairs TheilSen examines (≈ 125 000 for 500 points).
const maxPoints = 500

func thin(x, y []float64, max int) ([]float64, []float64) {
	if len(x) <= max {
		return x, y
	}
	tx, ty := make([]float64, max), make([]float64, max)
	step := float64(len(x)-1) / float64(max-1)
	for i := range max {
		k := int(math.Round(float64(i) * step))
		tx[i], ty[i] = x[k], y[k]
	}
	return tx, ty
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Intercept returns the median of y - slope·x: the Theil–Sen line's offset.
func Intercept(x, y []float64, slope float64) float64 {
	r := make([]float64, 0, len(x))
	for i := range x {
		r = append(r, y[i]-slope*x[i])
	}
	if len(r) == 0 {
		return 0
	}
	return median(r)
}
