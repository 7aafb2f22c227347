package slope

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func series(n int, f func(i int) float64) (x, y []float64) {
	for i := range n {
		x = append(x, float64(i))
		y = append(y, f(i))
	}
	return x, y
}

func TestTheilSen(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		n        int
		f        func(i int) float64
		min, max float64
		reason   string
	}{
		{"flat", 100, func(int) float64 { return 40 }, 0, 0, "nothing grows"},
		{"leak", 100, func(i int) float64 { return 40 + float64(i) }, 1, 1, "one per iteration"},
		{"leak with noise", 200, func(i int) float64 { return 40 + float64(i) + r.NormFloat64()*3 }, 0.95, 1.05, "+1/iteration survives ±3 noise"},
		{"slow leak", 300, func(i int) float64 { return 10 + float64(i)/10 }, 0.099, 0.101, "one per ten iterations"},
		{"plateau", 200, func(i int) float64 { return math.Min(float64(i), 20) }, 0, 0, "a cache that fills early then stays flat"},
		{"spikes", 200, func(i int) float64 {
			if i%7 == 0 {
				return 500
			}
			return 12
		}, 0, 0, "periodic spikes are outliers, not growth"},
		{"one step", 200, func(i int) float64 {
			if i < 100 {
				return 5
			}
			return 6
		}, 0, 0.01, "a single step of one is not a per-iteration leak"},
		{"shrinking", 100, func(i int) float64 { return 100 - float64(i)/2 }, -0.5, -0.5, "negative slopes come out negative"},
		{"long series is thinned", 5000, func(i int) float64 { return float64(i) * 2 }, 2, 2, "thinning keeps the slope"},
	}
	for _, tt := range tests {
		x, y := series(tt.n, tt.f)
		got, ok := TheilSen(x, y)
		assert.True(t, ok, tt.name)
		assert.GreaterOrEqual(t, got, tt.min-1e-9, "%s: %s", tt.name, tt.reason)
		assert.LessOrEqual(t, got, tt.max+1e-9, "%s: %s", tt.name, tt.reason)
	}
}

func TestTheilSenDegenerate(t *testing.T) {
	_, ok := TheilSen(nil, nil)
	assert.False(t, ok, "no points")
	_, ok = TheilSen([]float64{1}, []float64{1})
	assert.False(t, ok, "one point")
	_, ok = TheilSen([]float64{3, 3, 3}, []float64{1, 2, 3})
	assert.False(t, ok, "no two distinct x")
	_, ok = TheilSen([]float64{1, 2}, []float64{1})
	assert.False(t, ok, "mismatched lengths")
}

func TestIntercept(t *testing.T) {
	x, y := series(50, func(i int) float64 { return 7 + 3*float64(i) })
	s, _ := TheilSen(x, y)
	assert.InDelta(t, 7, Intercept(x, y, s), 1e-9)
}

func TestMedianAgreesWithSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 1; n < 300; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.IntN(20)) // many ties, the hard case for selection
		}
		sorted := append([]float64(nil), v...)
		slices.Sort(sorted)
		want := sorted[n/2]
		if n%2 == 0 {
			want = (sorted[n/2-1] + sorted[n/2]) / 2
		}
		assert.Equal(t, want, median(v), "n=%d", n)
	}
}

func BenchmarkTheilSen(b *testing.B) {
	x, y := series(4096, func(i int) float64 { return float64(i % 7) })
	for b.Loop() {
		TheilSen(x, y)
	}
}
