package leakcheck_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// An option given to an entry point it does not apply to is a misuse that
// names the option and the entry point, never silently ignored.
func TestOptionScopes(t *testing.T) {
	noop := func() error { return nil }
	tests := []struct {
		name string
		call func() error
		want string // "" when the options apply
	}{
		{"a soak's iterations given to Find", func() error {
			_, err := leakcheck.Find(nil, leakcheck.WithIterations(5))
			return err
		}, "WithIterations(5) does not apply to Find; it is for Soak and RunSoak"},
		{"Cleanup given to Find (goleak's Find rejects it too)", func() error {
			_, err := leakcheck.Find(nil, leakcheck.Cleanup(func(int) {}))
			return err
		}, "Cleanup does not apply to Find; it is for VerifyNone, VerifyTestMain"},
		{"a warm-up given to Find", func() error {
			_, err := leakcheck.Find(nil, leakcheck.WithWarmup(.5))
			return err
		}, "WithWarmup(0.5) does not apply to Find"},
		{"a timeout given to Take, which never waits", func() error {
			_, err := leakcheck.Take(leakcheck.WithTimeout(time.Second))
			return err
		}, "WithTimeout(1s) does not apply to Take"},
		{"a timeout given to a soak, whose culprits are one look", func() error {
			_, err := leakcheck.RunSoak(func(int) error { return nil }, leakcheck.WithTimeout(time.Second))
			return err
		}, "WithTimeout(1s) does not apply to Soak and RunSoak"},
		{"a tolerance given to a soak, which has WithMaxSlope", func() error {
			_, err := leakcheck.RunSoak(func(int) error { return nil }, leakcheck.WithTolerance(leakcheck.FDs, 1))
			return err
		}, "WithTolerance(fds, 1) does not apply to Soak and RunSoak"},
		{"Cleanup given to a cycle", func() error {
			_, err := leakcheck.FindCycle(1, func(int) error { return nil }, noop, leakcheck.Cleanup(func(int) {}))
			return err
		}, "Cleanup does not apply to Cycle, CycleAll and FindCycle"},
		{"RunOnFailure given to Find", func() error {
			_, err := leakcheck.Find(nil, leakcheck.RunOnFailure())
			return err
		}, "RunOnFailure() does not apply to Find; it is for VerifyTestMain"},
		{"WithResources of nothing", func() error {
			_, err := leakcheck.Take(leakcheck.WithResources(0))
			return err
		}, "name one or more of Goroutines, FDs, Sockets, Threads, Processes"},
		{"a nil filter", func() error {
			_, err := leakcheck.Find(nil, leakcheck.IgnoreFD(nil))
			return err
		}, "IgnoreFD: the function is nil"},
		{"options where they apply", func() error {
			_, err := leakcheck.RunSoak(func(int) error { return nil }, leakcheck.WithIterations(2), leakcheck.WithWarmup(.5),
				leakcheck.WithResources(leakcheck.Goroutines), leakcheck.IgnoreTopFunction("x"))
			if err != nil {
				return err
			}
			_, err = leakcheck.Find(nil, leakcheck.WithResources(leakcheck.Goroutines), leakcheck.WithTimeout(0), leakcheck.WithTolerance(leakcheck.Goroutines, 0))
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCheckRejectsSoakOptions(t *testing.T) {
	ft := newFakeT(t, t.Name())
	leakcheck.Check(ft, leakcheck.WithIterations(5), leakcheck.WithMaxSlope(1))
	ft.finish()
	assert.Contains(t, ft.errorText(), "WithIterations(5) does not apply to Check; it is for Soak and RunSoak")
	assert.Contains(t, ft.errorText(), "WithMaxSlope(1) does not apply to Check")
}
