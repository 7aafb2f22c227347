// Package slope fits robust growth rates to resource-count series.
package slope

import "math"

// TheilSen returns the Theil–Sen estimate of the slope of y over x: the
// median of the slopes between every pair of points with distinct x. It
// ignores up to ~29% of arbitrary outliers, so a spike or a plateau reached
// early does not read as growth. ok is false with fewer than two distinct x.
//
// For n points it looks at n(n-1)/2 pairs; above maxPoints points it thins
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

// maxPoints bounds the pairs TheilSen examines (32 640 for 256 points,
// about 0.4 ms): plenty for a robust slope, cheap enough to fit every
// category at the end of a soak.
const maxPoints = 256

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

// median returns the median of v, reordering v. It selects rather than
// sorts (expected linear time): Theil–Sen takes the median of ~10⁵ slopes.
func median(v []float64) float64 {
	n := len(v)
	hi := nth(v, n/2)
	if n%2 == 1 {
		return hi
	}
	// The lower middle is the largest of the elements left of n/2.
	lo := v[0]
	for _, x := range v[1 : n/2] {
		lo = math.Max(lo, x)
	}
	return (lo + hi) / 2
}

// nth reorders v so that v[k] is the element a sort would put there, every
// element before it is ≤ and every element after it ≥, and returns v[k]:
// Hoare's selection with a median-of-three pivot and a three-way partition,
// so runs of equal values (common among slopes) cost linear time too.
func nth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		a, b, c := v[lo], v[lo+(hi-lo)/2], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		// v[lo:lt] < pivot, v[lt:i] == pivot, v[gt+1:hi+1] > pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch x := v[i]; {
			case x < pivot:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case x > pivot:
				v[gt], v[i] = v[i], v[gt]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return v[k]
		}
	}
	return v[k]
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
