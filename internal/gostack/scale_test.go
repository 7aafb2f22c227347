package gostack

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// BenchmarkScale is the cost of one look of each primitive by goroutine
// count and stack depth: n parked goroutines, each depth frames of its own
// below the receive it blocks in. Run it alone, the sizes one at a time:
//
//	go test -run='^$' -bench='Scale/.*/^n=10000$/' -benchtime=5x -benchmem ./internal/gostack
//	go test -run='^$' -bench='Scale/.*/^n=100000$/' -benchtime=2x -benchmem ./internal/gostack
//
// -short runs every primitive at 100 and 1000 goroutines only (CI runs
// every benchmark once with -short). Besides time and allocation per look it reports dump-B, the size
// of the text dump, and held-B, what the primitive keeps between looks.
func BenchmarkScale(b *testing.B) {
	for _, p := range scalePrimitives {
		b.Run(p.name, func(b *testing.B) {
			for _, n := range []int{100, 1000, 10000, 100000} {
				for _, depth := range []int{0, 50} {
					b.Run(fmt.Sprintf("n=%d/depth=%d", n, depth), func(b *testing.B) {
						if n < 10000 && !p.small && !testing.Short() {
							b.Skip("measured from 10 000 goroutines up")
						}
						if testing.Short() && n > 1000 {
							b.Skipf("%d goroutines: too slow for -short", n)
						}
						parkDeep(b, n, depth)
						b.ReportAllocs()
						p.run(b)
					})
				}
			}
		})
	}
}

type scalePrimitive struct {
	name  string
	small bool // also measured below 10 000 goroutines
	run   func(b *testing.B)
}

var scalePrimitives = []scalePrimitive{
	{"NumGoroutine", false, func(b *testing.B) {
		for b.Loop() {
			runtime.NumGoroutine()
		}
	}},
	{"TakeCensus", false, func(b *testing.B) {
		for b.Loop() {
			if _, err := TakeCensus(); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"TakeLabeledCensus", false, func(b *testing.B) {
		for b.Loop() {
			if _, err := TakeLabeledCensus(); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"All", false, func(b *testing.B) { // runtime.Stack(all) + Parse
		for b.Loop() {
			if _, err := All(); err != nil {
				b.Fatal(err)
			}
		}
		reportDump(b, nil)
	}},
	{"IDs", false, func(b *testing.B) {
		for b.Loop() {
			IDs()
		}
		reportDump(b, nil)
	}},
	{"DumperIDs", false, func(b *testing.B) { // Take + IDs into the reused buffer and slice
		var d Dumper
		d.Take()
		ids := d.IDs(nil)
		for b.Loop() {
			d.Take()
			ids = d.IDs(ids)
		}
		reportDump(b, &d)
	}},
	{"DumperNewSince", false, func(b *testing.B) { // Take + NewSince of a baseline: nothing new, nothing parsed
		var d Dumper
		d.Take()
		base := d.IDs(nil)
		for b.Loop() {
			d.Take()
			if _, err := d.NewSince(base); err != nil {
				b.Fatal(err)
			}
		}
		reportDump(b, &d)
	}},
	{"DetectLeaks", true, func(b *testing.B) { // a leak-detecting GC cycle; nothing leaked
		for b.Loop() {
			if _, ok, err := DetectLeaks(); err != nil || !ok {
				b.Skipf("no leak detection on %s (ok=%v, err=%v)", runtime.Version(), ok, err)
			}
		}
	}},
	{"GC", true, func(b *testing.B) { // runtime.GC, to compare with DetectLeaks
		for b.Loop() {
			runtime.GC()
		}
	}},
}

func reportDump(b *testing.B, d *Dumper) {
	var probe Dumper
	probe.Take()
	b.ReportMetric(float64(probe.Size()), "dump-B")
	if d != nil {
		b.ReportMetric(float64(d.Cap()), "held-B")
	}
}

// parkDeep parks n goroutines, each depth calls deep in parkAt, until the
// sub-benchmark ends, and collects the garbage of starting them.
func parkDeep(b *testing.B, n, depth int) {
	b.Helper()
	stop := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			parkAt(depth, &parked, stop)
		}()
	}
	parked.Wait()
	b.Cleanup(func() {
		close(stop)
		done.Wait()
		runtime.GC()
		debug.FreeOSMemory()
	})
	runtime.GC()
	b.ResetTimer()
}

//go:noinline
func parkAt(depth int, parked *sync.WaitGroup, stop <-chan struct{}) int {
	if depth == 0 {
		parked.Done()
		<-stop
		return 0
	}
	return parkAt(depth-1, parked, stop) + 1
}
