package heapdiff_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/heapdiff"
)

func TestRetains(t *testing.T) {
	for _, tc := range []struct {
		name     string
		retained []int64
		n        int
		want     bool
	}{
		{"every round over 16 B × 200 + 8 KiB", []int64{12000, 12000, 12000}, 200, true},
		{"one round at the limit exactly: not over", []int64{12000, 16*200 + 8192, 12000}, 200, false},
		{"a one-off: one round kept a thread, the others nothing", []int64{5576, 0, 0}, 200, false},
		{"two rounds out of three is not every round", []int64{12000, 12000, -200}, 200, false},
		{"the slack weighs most at small n: 1 cycle, 8 KiB kept", []int64{8192, 8192, 8192}, 1, false},
		{"a 4 KiB leak at n=200 is far over", []int64{819200, 819200, 819200}, 200, true},
		{"no rounds retain nothing", nil, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, heapdiff.Retains(tc.retained, tc.n, heapdiff.DefaultTolerance, heapdiff.DefaultSlack))
		})
	}
}

func TestDefaultIgnores(t *testing.T) {
	frames := func(fns ...string) []runtime.Frame {
		var fs []runtime.Frame
		for _, fn := range fns {
			fs = append(fs, runtime.Frame{Function: fn})
		}
		return fs
	}
	for _, tc := range []struct {
		name  string
		stack []runtime.Frame
		want  string // the rule's name, "" for none
	}{
		{"t.Logf's buffer", frames("runtime.mallocgc", "runtime.growslice", "testing.(*outputWriter).writeLine", "testing.(*common).log", "testing.(*common).Logf", "example.com/app.TestX.func1"), "testing bookkeeping"},
		{"t.Cleanup's list", frames("runtime.mallocgc", "runtime.growslice", "testing.(*common).Cleanup", "example.com/app.open"), "testing bookkeeping"},
		{"the user's allocation called from a test is the user's", frames("runtime.mallocgc", "runtime.makeslice", "example.com/app.open", "testing.tRunner"), ""},
		{"a new OS thread's m", frames("runtime.mallocgc", "runtime.newobject", "runtime.allocm", "runtime.newm", "runtime.startTheWorldWithSema"), "runtime thread"},
		{"a new goroutine's g is not a thread", frames("runtime.mallocgc", "runtime.newobject", "runtime.malg", "runtime.newproc1"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			for _, r := range heapdiff.DefaultIgnores() {
				if r.Match(heapdiff.Site{Stack: tc.stack}) {
					got = r.Name
					assert.NotEmpty(t, r.Reason)
					break
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// A create step that logs keeps its log line in the testing package until
// the test ends (without -v): the rounds retain, the profiled round shows
// it is the testing package's, and nothing is reported.
func TestTestingLogIsNotALeak(t *testing.T) {
	const n = 200
	res, err := heapdiff.Run(n, cycle(n, func() func() {
		t.Logf("opened a connection to 127.0.0.1:8080, with a log line long enough to count")
		return func() {}
	}), heapdiff.Defaults())
	require.NoError(t, err)
	assert.False(t, res.Leaked(), "%v", res)
	if res.Profiled != nil { // under -v the log is printed, not kept
		require.NotEmpty(t, res.Ignored, "%v", res)
		assert.Equal(t, "testing bookkeeping", res.Ignored[0].By)
	}
}

func TestRunMisuse(t *testing.T) {
	ok := func() error { return nil }
	for _, tc := range []struct {
		name  string
		n     int
		round func() error
		cfg   func(*heapdiff.Config)
		want  string
	}{
		{"no cycles", 0, ok, nil, "heapdiff: 0 cycles per round: run at least one"},
		{"a zero Config instead of Defaults", 10, ok, func(c *heapdiff.Config) { *c = heapdiff.Config{} },
			"heapdiff: Rounds 0: want at least one measured round (start from Defaults()); Rate 0: want ≥ 1 (start from Defaults())"},
		{"a negative tolerance", 10, ok, func(c *heapdiff.Config) { c.Tolerance = -1 }, "heapdiff: Tolerance -1, Slack 8192: want ≥ 0"},
		{"no round", 10, nil, nil, "heapdiff: Run needs a round to run; got nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := heapdiff.Defaults()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := heapdiff.Run(tc.n, tc.round, cfg)
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestRunRoundError(t *testing.T) {
	boom := errors.New("dial: connection refused")
	calls := 0
	_, err := heapdiff.Run(10, func() error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	}, heapdiff.Defaults())
	assert.ErrorIs(t, err, boom)
	assert.EqualError(t, err, "heapdiff: round 2: dial: connection refused", "after one warm-up round")
}

// The profiling rate is back where it was after Run, leak or not, error or
// not.
func TestRunRestoresRate(t *testing.T) {
	old := runtime.MemProfileRate
	var kept [][]byte
	_, err := heapdiff.Run(10, func() error {
		for range 10 {
			kept = append(kept, make([]byte, 4096))
		}
		if len(kept) == 60 {
			return errors.New("stop in the profiled round")
		}
		return nil
	}, heapdiff.Defaults())
	require.Error(t, err)
	assert.Equal(t, old, runtime.MemProfileRate)
}

func TestResultString(t *testing.T) {
	user := func(fn, file string, line int) runtime.Frame {
		return runtime.Frame{Function: fn, File: file, Line: line}
	}
	leak := &heapdiff.Result{
		N: 200, Tolerance: 16, Slack: 8192,
		Retained: []int64{830200, 834600, 825600},
		Objects:  []int64{400, 401, 400},
		Profiled: &heapdiff.Delta{
			Bytes: 825600, Objects: 400,
			Sites: []heapdiff.Site{
				{Bytes: 819200, Objects: 200, User: user("example.com/pool.(*Registry).Open", "/src/pool/registry.go", 31)},
				{Bytes: 6400, Objects: 200, User: user("example.com/pool.(*Registry).Open", "/src/pool/registry.go", 30)},
			},
		},
		Ignored: []heapdiff.Ignored{{Site: heapdiff.Site{Bytes: 5576, Objects: 7}, By: "runtime thread"}},
	}
	assert.Equal(t, `heap: retained 4151 B and 2 objects per cycle (rounds of 200 cycles: 4151 B, 4173 B, 4128 B, profiled 4128 B; tolerance 16 B per cycle + 8192 B)
  4096 B in 1 object per cycle at example.com/pool.(*Registry).Open (/src/pool/registry.go:31)
  32 B in 1 object per cycle at example.com/pool.(*Registry).Open (/src/pool/registry.go:30)
  ignored (runtime thread): 28 B in 0.04 objects per cycle at (no frame in the user's code)`, leak.String())

	clean := &heapdiff.Result{N: 200, Tolerance: 16, Slack: 8192, Retained: []int64{0, 5576, -48}, Objects: []int64{0, 7, -1}}
	assert.Equal(t, "heap: nothing retained beyond the tolerance (rounds of 200 cycles: 0 B, 28 B, 0 B; tolerance 16 B per cycle + 8192 B)", clean.String())
}
