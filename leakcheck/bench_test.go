package leakcheck_test

import (
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/leakcheck/go/leakcheck"
)

// parkGoroutines starts n goroutines blocked until the benchmark ends.
func parkGoroutines(b *testing.B, n int) {
	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	// Wait for them to exit, so the next benchmark does not measure their
	// teardown.
	b.Cleanup(func() { close(release); done.Wait() })
}

var goroutineSizes = []int{1000, 10000, 100000}

func skipLarge(b *testing.B, n int) {
	if testing.Short() && n > 10000 {
		b.Skipf("%d goroutines: too slow for -short", n)
	}
}

// BenchmarkFindGoroutines is a clean goroutine check of a process with n
// parked goroutines that existed at the baseline: the verdict only.
func BenchmarkFindGoroutines(b *testing.B) {
	for _, n := range goroutineSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			skipLarge(b, n)
			parkGoroutines(b, n)
			opts := []leakcheck.Option{leakcheck.WithResources(leakcheck.Goroutines), leakcheck.WithTimeout(0)}
			base, err := leakcheck.Take(opts[0]) // Take never waits: no timeout
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				rep, err := leakcheck.Find(base, opts...)
				if err != nil || rep.Leaked() {
					b.Fatal(err, rep)
				}
			}
		})
	}
}

// BenchmarkGoleakFindGoroutines is the same verdict by goleak: the parked
// goroutines are ignored with IgnoreCurrent, taken before the loop.
func BenchmarkGoleakFindGoroutines(b *testing.B) {
	for _, n := range goroutineSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			skipLarge(b, n)
			parkGoroutines(b, n)
			ignore := goleak.IgnoreCurrent()
			b.ResetTimer()
			for b.Loop() {
				if err := goleak.Find(ignore); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckClean is a whole clean leakcheck.Check of a small test:
// baseline and verdict, all four resources.
func BenchmarkCheckClean(b *testing.B) {
	for b.Loop() {
		ft := newFakeT(b, "BenchmarkCheckClean")
		leakcheck.Check(ft, leakcheck.WithTimeout(time.Second))
		ft.finish()
		if ft.Failed() {
			b.Fatal(ft.errorText())
		}
	}
}

// BenchmarkGoleakVerifyNone is goleak's check of the same small test.
func BenchmarkGoleakVerifyNone(b *testing.B) {
	for b.Loop() {
		ft := newFakeT(b, "BenchmarkGoleakVerifyNone")
		goleak.VerifyNone(ft, goleak.IgnoreTopFunction("testing.(*B).run1"))
		if ft.Failed() {
			b.Fatal(ft.errorText())
		}
	}
}

// trivialCycle creates and destroys a pipe: the smallest real
// create/destroy cycle (two descriptors).
func trivialCycle(b *testing.B) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	r.Close()
	w.Close()
}

const soakCycles = 10000

// BenchmarkSoakOverhead runs 10 000 trivial cycles bare and the same
// 10 000 under RunSoak (totals sampled every iteration or every few, per
// category samples at the default interval, full snapshots at start and
// end), alternating in one process, and reports the soak's extra time as
// overhead-% (target < 10).
func BenchmarkSoakOverhead(b *testing.B) {
	var bare, soaked time.Duration
	for b.Loop() {
		start := time.Now()
		for range soakCycles {
			trivialCycle(b)
		}
		bare += time.Since(start)
		start = time.Now()
		rep, err := leakcheck.RunSoak(func(int) error { trivialCycle(b); return nil },
			leakcheck.WithIterations(soakCycles))
		if err != nil || rep.Leaked() {
			b.Fatal(err, rep)
		}
		soaked += time.Since(start)
	}
	b.ReportMetric(100*(float64(soaked)-float64(bare))/float64(bare), "overhead-%")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N*soakCycles), "bare-ns/cycle")
	b.ReportMetric(float64(soaked.Nanoseconds())/float64(b.N*soakCycles), "soaked-ns/cycle")
}

// BenchmarkCheckCleanRatio alternates a clean leakcheck.Check and goleak's
// VerifyNone of the same small test in one process, rounds of 50 each, and
// reports Check's time over goleak's as "×goleak": a ratio that a busy
// machine slows on both sides alike (target ≤ 1.5).
func BenchmarkCheckCleanRatio(b *testing.B) {
	var lc, gl time.Duration
	for b.Loop() {
		start := time.Now()
		for range 50 {
			ft := newFakeT(b, "BenchmarkCheckCleanRatio")
			leakcheck.Check(ft, leakcheck.WithTimeout(time.Second))
			ft.finish()
			if ft.Failed() {
				b.Fatal(ft.errorText())
			}
		}
		mid := time.Now()
		for range 50 {
			ft := newFakeT(b, "BenchmarkCheckCleanRatio")
			goleak.VerifyNone(ft, goleak.IgnoreTopFunction("testing.(*B).run1"))
			if ft.Failed() {
				b.Fatal(ft.errorText())
			}
		}
		lc += mid.Sub(start)
		gl += time.Since(mid)
	}
	b.ReportMetric(float64(lc)/float64(gl), "×goleak")
}
