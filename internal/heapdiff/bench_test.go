package heapdiff_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/leakcheck/go/internal/heapdiff"
)

// Figures: see the package documentation; regenerate with
//
//	go test -run '^$' -bench . -benchtime 20x ./internal/heapdiff/
//	HEAPDIFF_SWEEP=200 go test -run TestSmallestCaught -v ./internal/heapdiff/

// heapOf keeps about size bytes live in 1 KiB objects while the benchmark
// runs, so that a collection has something to mark.
func heapOf(b *testing.B, size int) {
	objs := make([][]byte, size>>10)
	for i := range objs {
		objs[i] = make([]byte, 1<<10)
	}
	b.Cleanup(func() { runtime.KeepAlive(objs) })
}

// What one measurement costs: Measure alone (what a clean round adds), and
// Measure with the two profile captures of a Window at rate 1.
func BenchmarkMeasure(b *testing.B) {
	for _, size := range []int{0, 64 << 20} {
		b.Run(fmt.Sprintf("heap=%dMiB", size>>20), func(b *testing.B) {
			heapOf(b, size)
			gcs := 0
			for b.Loop() {
				gcs += heapdiff.Collect()
				heapdiff.Read()
			}
			b.ReportMetric(float64(gcs)/float64(b.N), "GCs/op")
		})
		b.Run(fmt.Sprintf("heap=%dMiB/with-2-profiles", size>>20), func(b *testing.B) {
			heapOf(b, size)
			restore, err := heapdiff.SetRate(1)
			if err != nil {
				b.Fatal(err)
			}
			defer restore()
			for b.Loop() {
				heapdiff.Measure()
				if _, err := heapdiff.Capture(); err != nil {
					b.Fatal(err)
				}
				if _, err := heapdiff.Capture(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A cycle-like loop at n=200 (a warm-up create/destroy, then 200 creates
// and 200 destroys of a registry connection with a 4 KiB buffer), with
// the heap kind off and on (Run with Defaults, clean: no profiled round).
func BenchmarkCycle(b *testing.B) {
	const n = 200
	r := &registry{conns: make(map[int]*conn)}
	round := cycle(n, func() func() {
		c := r.open()
		return func() { r.close(c) }
	})
	warm := cycle(1, func() func() {
		c := r.open()
		return func() { r.close(c) }
	})
	b.Run("heap=off", func(b *testing.B) {
		for b.Loop() {
			_ = warm()
			_ = round()
		}
	})
	b.Run("heap=on", func(b *testing.B) {
		for b.Loop() {
			_ = warm()
			_ = round()
			res, err := heapdiff.Run(n, round, heapdiff.Defaults())
			if err != nil || res.Leaked() {
				b.Fatal(err, res)
			}
		}
	})
	r.leaky = true
	b.Run("heap=on/leaking", func(b *testing.B) {
		for b.Loop() {
			_ = warm()
			_ = round()
			res, err := heapdiff.Run(n, round, heapdiff.Defaults())
			if err != nil || !res.Leaked() {
				b.Fatal(err, res)
			}
		}
	})
}

// TestSmallestCaught leaks size bytes per cycle (one object of that size
// class, held from a slice allocated beforehand) at n=$HEAPDIFF_SWEEP, 20
// runs per size, with Defaults, and prints how often each size was caught.
// Expect the threshold DefaultTolerance + DefaultSlack/n.
func TestSmallestCaught(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("HEAPDIFF_SWEEP"))
	if err != nil || n < 1 {
		t.Skip("a measurement: HEAPDIFF_SWEEP=200 to run it at 200 cycles per round")
	}
	const runs = 20
	for _, size := range []int{16, 32, 48, 64, 80, 96, 128, 256, 512, 1024, 4096} {
		caught := 0
		start := time.Now()
		for range runs {
			held := make([]*byte, 0, 10*n)
			res, err := heapdiff.Run(n, func() error {
				for range n {
					b := make([]byte, size)
					held = append(held, &b[0])
				}
				return nil
			}, heapdiff.Defaults())
			if err != nil {
				t.Fatal(err)
			}
			if res.Leaked() {
				caught++
			}
			runtime.KeepAlive(held)
		}
		t.Logf("%5d B per cycle: caught %2d of %d (%v per run)", size, caught, runs, time.Since(start)/runs)
	}
}
