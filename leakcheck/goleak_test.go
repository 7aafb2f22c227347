package leakcheck_test

import (
	"os"
	"os/signal"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/leakcheck/go/leakcheck"
)

//go:noinline
func parkedInHelper(release chan struct{}) { <-release }

// never is a channel nothing sends on: a second case keeps the select a
// real select (a single-case select compiles to a plain receive).
var never chan struct{}

//go:noinline
func parkInSelect(release chan struct{}) {
	select {
	case <-release:
	case <-never:
	}
}

// A goroutine scenario sets up goroutines and returns the options both
// checkers get (as a pair) and a function that ends the scenario.
type goroutineScenario struct {
	name  string
	setup func() (goleakOpts []goleak.Option, ours []leakcheck.Option, end func())
}

func goroutineScenarios() []goroutineScenario {
	return []goroutineScenario{
		{"nothing running", func() ([]goleak.Option, []leakcheck.Option, func()) {
			return nil, nil, func() {}
		}},
		{"blocked on a channel", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go parkedInHelper(r)
			return nil, nil, func() { close(r) }
		}},
		{"ends 50ms later", func() ([]goleak.Option, []leakcheck.Option, func()) {
			go func() { time.Sleep(50 * time.Millisecond) }()
			return nil, nil, func() {}
		}},
		{"blocked in select", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go parkInSelect(r)
			return nil, nil, func() { close(r) }
		}},
		{"blocked on a mutex", func() ([]goleak.Option, []leakcheck.Option, func()) {
			var mu sync.Mutex
			mu.Lock()
			go func() {
				mu.Lock() // blocks until the scenario ends
				defer mu.Unlock()
			}()
			return nil, nil, mu.Unlock
		}},
		{"sleeping", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go func() {
				select {
				case <-time.After(time.Hour):
				case <-r:
				}
			}()
			return nil, nil, func() { close(r) }
		}},
		{"ignored by top function", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go parkInSelect(r)
			f := "github.com/leakcheck/go/leakcheck_test.parkInSelect"
			return []goleak.Option{goleak.IgnoreTopFunction(f)}, []leakcheck.Option{leakcheck.IgnoreTopFunction(f)}, func() { close(r) }
		}},
		{"top function names another", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go parkInSelect(r)
			f := "github.com/leakcheck/go/leakcheck_test.parkedInHelper"
			return []goleak.Option{goleak.IgnoreTopFunction(f)}, []leakcheck.Option{leakcheck.IgnoreTopFunction(f)}, func() { close(r) }
		}},
		{"ignored by any function", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go func() { parkedInHelper(r) }()
			f := "github.com/leakcheck/go/leakcheck_test.parkedInHelper"
			return []goleak.Option{goleak.IgnoreAnyFunction(f)}, []leakcheck.Option{leakcheck.IgnoreAnyFunction(f)}, func() { close(r) }
		}},
		{"ignore current", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			go parkedInHelper(r)
			time.Sleep(time.Millisecond) // let it start before both record the current goroutines
			return []goleak.Option{goleak.IgnoreCurrent()}, []leakcheck.Option{leakcheck.IgnoreCurrent()}, func() { close(r) }
		}},
		{"ignore current, then a new one", func() ([]goleak.Option, []leakcheck.Option, func()) {
			r := make(chan struct{})
			gl, lc := goleak.IgnoreCurrent(), leakcheck.IgnoreCurrent()
			go parkedInHelper(r)
			return []goleak.Option{gl}, []leakcheck.Option{lc}, func() { close(r) }
		}},
		{"os/signal loop", func() ([]goleak.Option, []leakcheck.Option, func()) {
			c := make(chan os.Signal, 1)
			signal.Notify(c, os.Interrupt) // any signal starts the loop; os.Interrupt exists everywhere
			return nil, nil, func() { signal.Stop(c) }
		}},
	}
}

// TestDifferentialGoleak runs the same goroutine scenarios past goleak.Find
// and leakcheck.Find with goleak's meaning of "none": the verdicts agree.
func TestDifferentialGoleak(t *testing.T) {
	for _, sc := range goroutineScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			gOpts, lOpts, end := sc.setup()
			goleakErr := goleak.Find(gOpts...)
			lOpts = append(lOpts, leakcheck.WithResources(leakcheck.Goroutines), leakcheck.WithTimeout(500*time.Millisecond))
			rep, err := leakcheck.Find(nil, lOpts...)
			require.NoError(t, err)
			assert.Equal(t, goleakErr != nil, rep.Leaked(), "goleak says %v\nleakcheck says %s", goleakErr, rep)
			end()
			// Both settle before the next scenario.
			require.NoError(t, goleak.Find())
		})
	}
}

// TestVerifyNoneLikeGoleak: VerifyNone fails a test exactly where goleak's does.
func TestVerifyNoneLikeGoleak(t *testing.T) {
	for _, sc := range goroutineScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			gOpts, lOpts, end := sc.setup()
			gt, lt := newFakeT(t, "goleak"), newFakeT(t, "leakcheck")
			goleak.VerifyNone(gt, gOpts...)
			leakcheck.VerifyNone(lt, append(lOpts, leakcheck.WithTimeout(500*time.Millisecond))...)
			assert.Equal(t, gt.Failed(), lt.Failed(), "goleak: %s\nleakcheck: %s", gt.errorText(), lt.errorText())
			end()
			require.NoError(t, goleak.Find())
		})
	}
}

func TestCleanupOption(t *testing.T) {
	ft := newFakeT(t, "cleanup")
	code := -1
	leakcheck.VerifyNone(ft, leakcheck.Cleanup(func(c int) { code = c }))
	assert.Equal(t, 0, code, "VerifyNone passes 0 to Cleanup, as goleak does")
	assert.False(t, ft.Failed(), ft.errorText())
}
