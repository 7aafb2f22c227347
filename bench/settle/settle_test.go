package settle

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/leakcheck/go/leakcheck"
)

// lateBy is how long after the body the test's last goroutine exits.
const lateBy = 50 * time.Millisecond

// fakeT stands in for a test so a Check's cleanup can be run, and timed, at
// a chosen moment; what the check reports is recorded, everything else goes
// to the benchmark it wraps.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (f *fakeT) Helper()                   {}
func (f *fakeT) Name() string              { return "BenchmarkSettle" }
func (f *fakeT) Attr(string, string)       {}
func (f *fakeT) Logf(string, ...any)       {}
func (f *fakeT) Log(...any)                {}
func (f *fakeT) Cleanup(fn func())         { f.mu.Lock(); f.cleanups = append(f.cleanups, fn); f.mu.Unlock() }
func (f *fakeT) Errorf(s string, a ...any) { f.Error(fmt.Sprintf(s, a...)) }
func (f *fakeT) Error(a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprint(a...))
}
func (f *fakeT) Fail() { f.Error("Fail called") }
func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0
}

// finish runs the cleanups, last registered first, as testing does.
func (f *fakeT) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

// lateTeardown starts the goroutine a clean test leaves to finish after its
// body: it exits lateBy from now.
func lateTeardown() {
	go func() { time.Sleep(lateBy) }()
}

// measure runs check lateness-timed iterations and reports the median and
// 90th percentile of the time from the body's end until the check passed.
// check runs the body's end at body() and returns when the check is done.
func measure(b *testing.B, check func(ft *fakeT, bodyEnd func())) {
	var lat []time.Duration
	for b.Loop() {
		ft := &fakeT{TB: b}
		var end time.Time
		check(ft, func() {
			lateTeardown()
			end = time.Now()
		})
		d := time.Since(end)
		if ft.Failed() {
			b.Fatalf("a clean test failed its check:\n%s", strings.Join(ft.errors, "\n"))
		}
		if d < lateBy {
			b.Fatalf("the check passed %v after the body, before the teardown goroutine could have exited (%v): it did not wait for it", d, lateBy)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*9)/10]), "p90-ms")
}

// BenchmarkSettleCheck is leakcheck.Check on a clean test whose teardown
// goroutine exits 50 ms after the body: from the body's end to the return
// of Check's cleanup.
func BenchmarkSettleCheck(b *testing.B) {
	measure(b, func(ft *fakeT, bodyEnd func()) {
		leakcheck.Check(ft)
		bodyEnd()
		ft.finish()
	})
}

// BenchmarkSettleGoleak is the same test checked with goleak.VerifyNone
// (the goroutines that existed before the test ignored with IgnoreCurrent,
// as Check's baseline does).
func BenchmarkSettleGoleak(b *testing.B) {
	measure(b, func(ft *fakeT, bodyEnd func()) {
		before := goleak.IgnoreCurrent()
		bodyEnd()
		goleak.VerifyNone(ft, before)
	})
}
