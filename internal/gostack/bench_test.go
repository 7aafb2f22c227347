package gostack

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// The sizes every benchmark runs at: parked goroutines besides the test's own.
var benchSizes = []int{1000, 10000, 100000}

// benchPark parks n goroutines for one sub-benchmark and releases them when it
// ends, so each size measures only its own population.
func benchPark(b *testing.B, n int) {
	b.Helper()
	stop := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			started.Done()
			<-stop
		}()
	}
	started.Wait()
	b.Cleanup(func() {
		close(stop)
		done.Wait()
	})
}

func forSizes(b *testing.B, fn func(b *testing.B)) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if testing.Short() && n > 10000 {
				b.Skipf("%d goroutines: too slow for -short (CI runs benchmarks once with -short)", n)
			}
			benchPark(b, n)
			b.ResetTimer()
			fn(b)
		})
	}
}

// BenchmarkCensus is one fast-path census: runtime.GoroutineProfile, PCs
// hashed, nothing symbolized.
func BenchmarkCensus(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := TakeCensus(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCleanCheck is what leakcheck pays for a test that leaks nothing:
// a baseline census, a census after the body, and the comparison. Compare
// it with BenchmarkGoleakFind, which does the same job goleak's way.
func BenchmarkCleanCheck(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			base, err := TakeCensus()
			if err != nil {
				b.Fatal(err)
			}
			now, err := TakeCensus()
			if err != nil {
				b.Fatal(err)
			}
			if now.Grew(base) {
				b.Fatal("a clean check found growth")
			}
		}
	})
}

// BenchmarkLabeledCensus is a census by stack and pprof labels, from the
// goroutine profile at debug=1.
func BenchmarkLabeledCensus(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := TakeLabeledCensus(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAll is the describe path: the stop-the-world text dump and its
// parse.
func BenchmarkAll(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := All(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIDs is the exact identity baseline: the dump, headers only.
func BenchmarkIDs(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			IDs()
		}
	})
}

// BenchmarkParse is the parser alone, over a dump captured once per size.
func BenchmarkParse(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		text := dump()
		b.SetBytes(int64(len(text)))
		b.ResetTimer()
		for b.Loop() {
			if _, err := parseString(text); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGoleakFind is goleak's clean check at the same sizes: a full dump
// and parse for IgnoreCurrent, then another for Find.
func BenchmarkGoleakFind(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNumGoroutine is the floor: a counter read.
func BenchmarkNumGoroutine(b *testing.B) {
	forSizes(b, func(b *testing.B) {
		for b.Loop() {
			runtime.NumGoroutine()
		}
	})
}
