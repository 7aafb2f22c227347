package series

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leakcheck/go/internal/slope"
)

// The totals leakcheck's samples hold; categories are "<total>/<name>".
const (
	FDs        = "fds"
	Sockets    = "sockets"
	Threads    = "threads"
	Goroutines = "goroutines"
	Processes  = "processes" // child processes ("processes/sleep *"); with leakwatch --tree, every descendant
)

// Counts is one sample: a count per category key ("fds", "fds/eventfd",
// "sockets/tcp CLOSE_WAIT", "threads/worker", "goroutines",
// "processes/sleep 20").
type Counts map[string]int

// Sample is one observation of a Series.
type Sample struct {
	Iteration int       // the caller's iteration number (leakwatch: the sample's index)
	Time      time.Time // when it was taken
	Counts    Counts
}

// Series is samples of one target, in order of time.
type Series struct {
	Target  string // what was sampled, for titles: "pid 4242 (server)"
	Samples []Sample
}

// Add appends a sample. Samples must come in order of time.
func (s *Series) Add(iteration int, t time.Time, c Counts) {
	s.Samples = append(s.Samples, Sample{Iteration: iteration, Time: t, Counts: c})
}

// Len returns the number of samples.
func (s *Series) Len() int { return len(s.Samples) }

// Keys returns every category key any sample holds, in report order: the
// resources goroutines, fds, sockets, threads, processes, each total before its
// categories, categories sorted by name.
func (s *Series) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, sm := range s.Samples {
		for k := range sm.Counts {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

var resourceOrder = map[string]int{Goroutines: 0, FDs: 1, Sockets: 2, Threads: 3, Processes: 4}

// compareKeys orders keys by resource (unknown resources last, by name),
// the total first, then by category name.
func compareKeys(a, b string) int {
	ra, ca, _ := strings.Cut(a, "/")
	rb, cb, _ := strings.Cut(b, "/")
	oa, ok := resourceOrder[ra]
	if !ok {
		oa = len(resourceOrder)
	}
	ob, ok := resourceOrder[rb]
	if !ok {
		ob = len(resourceOrder)
	}
	if oa != ob {
		return oa - ob
	}
	if ra != rb {
		return strings.Compare(ra, rb)
	}
	if (ca == "") != (cb == "") {
		if ca == "" {
			return -1
		}
		return 1
	}
	return strings.Compare(ca, cb)
}

// Values returns key's count in every sample (0 where a sample lacks it).
func (s *Series) Values(key string) []int {
	v := make([]int, len(s.Samples))
	for i, sm := range s.Samples {
		v[i] = sm.Counts[key]
	}
	return v
}

// Stats is what a Series says about one category.
type Stats struct {
	Key string `json:"key"`

	// Start is the count at the first sample after the warm-up, End at
	// the last sample, Max the largest of all samples (warm-up included).
	// Growth is End - Start.
	Start  int `json:"start"`
	End    int `json:"end"`
	Max    int `json:"max"`
	Growth int `json:"growth"`

	// PerIteration and PerSecond are Theil–Sen slopes over the samples
	// after the warm-up; Fitted is false when fewer than two samples (or
	// two distinct iterations, or times) remain, and the slopes are 0.
	PerIteration float64 `json:"per_iteration"`
	PerSecond    float64 `json:"per_second"`
	Fitted       bool    `json:"fitted"`
}

// warmupSkip returns how many leading samples a warm-up share of n skips,
// keeping at least two for a fit.
func warmupSkip(n int, warmup float64) int {
	if !(warmup > 0) { // also NaN
		return 0
	}
	if warmup > 1 {
		warmup = 1
	}
	skip := int(warmup * float64(n))
	if n-skip < 2 {
		skip = max(0, n-2)
	}
	return skip
}

// WarmupSamples returns how many leading samples a warm-up share leaves out
// of Stats: the share of the samples, rounded down, but always keeping two
// for a slope.
func (s *Series) WarmupSamples(warmup float64) int { return warmupSkip(len(s.Samples), warmup) }

// CheckWarmup returns an error unless warmup is a share in [0, 1).
func CheckWarmup(warmup float64) error {
	if !(warmup >= 0 && warmup < 1) {
		return fmt.Errorf("warm-up share %v: want a fraction of the samples in [0, 1), such as 0.2", warmup)
	}
	return nil
}

// Stats describes key over the samples; warmup is the leading share of
// samples (0.2: the first fifth) left out of Start and of the slopes.
func (s *Series) Stats(key string, warmup float64) Stats {
	st := Stats{Key: key}
	n := len(s.Samples)
	if n == 0 {
		return st
	}
	skip := warmupSkip(n, warmup)
	v := s.Values(key)
	st.Start, st.End = v[skip], v[n-1]
	st.Max = slices.Max(v)
	st.Growth = st.End - st.Start

	t0 := s.Samples[0].Time
	its := make([]float64, 0, n-skip)
	secs := make([]float64, 0, n-skip)
	ys := make([]float64, 0, n-skip)
	for i := skip; i < n; i++ {
		its = append(its, float64(s.Samples[i].Iteration))
		secs = append(secs, s.Samples[i].Time.Sub(t0).Seconds())
		ys = append(ys, float64(v[i]))
	}
	perIter, okIter := slope.TheilSen(its, ys)
	perSec, okSec := slope.TheilSen(secs, ys)
	if okIter && okSec {
		st.PerIteration, st.PerSecond, st.Fitted = perIter, perSec, true
	}
	return st
}

// Summary returns the Stats of every key, in Keys order.
func (s *Series) Summary(warmup float64) []Stats {
	keys := s.Keys()
	out := make([]Stats, len(keys))
	for i, k := range keys {
		out[i] = s.Stats(k, warmup)
	}
	return out
}

// Duration returns the time from the first sample to the last.
func (s *Series) Duration() time.Duration {
	if len(s.Samples) < 2 {
		return 0
	}
	return s.Samples[len(s.Samples)-1].Time.Sub(s.Samples[0].Time)
}
