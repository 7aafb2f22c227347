package goleak_test

import (
	"os"
	"os/signal"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	uber "go.uber.org/goleak"

	"github.com/leakcheck/go/goleak"
	"github.com/leakcheck/go/leakcheck"
)

const pkg = "github.com/leakcheck/go/goleak_test."

// never is a channel nothing sends on: a second case keeps a select a real
// select (a single-case select compiles to a plain receive).
var never chan struct{}

//go:noinline
func blockedOn(release chan struct{}) { <-release }

//go:noinline
func selecting(release chan struct{}) {
	select {
	case <-release:
	case <-never:
	}
}

//go:noinline
func callsBlockedOn(release chan struct{}) { blockedOn(release) }

//go:noinline
func startFollowers(n int, release chan struct{}) {
	for range n {
		go selecting(release)
	}
}

// A scenario sets up goroutines and returns the options goleak and the
// drop-in get, and a function that ends it.
type scenario struct {
	name   string
	reason string
	setup  func() (theirs []uber.Option, ours []goleak.Option, end func())
}

func scenarios() []scenario {
	none := func() ([]uber.Option, []goleak.Option, func()) { return nil, nil, func() {} }
	return []scenario{
		{"clean", "nothing was started", none},
		{"blocked on a channel", "the plain leak", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			go blockedOn(r)
			return nil, nil, func() { close(r) }
		}},
		{"ends 50ms later", "both wait for a goroutine that is on its way out", func() ([]uber.Option, []goleak.Option, func()) {
			go time.Sleep(50 * time.Millisecond)
			return nil, nil, func() {}
		}},
		{"ends 100ms later, started by a goroutine", "still within both waits", func() ([]uber.Option, []goleak.Option, func()) {
			done := make(chan struct{})
			go func() {
				go func() { time.Sleep(100 * time.Millisecond); close(done) }()
			}()
			return nil, nil, func() { <-done }
		}},
		{"IgnoreTopFunction, matching", "the goroutine parks in the named function", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			go selecting(r)
			return []uber.Option{uber.IgnoreTopFunction(pkg + "selecting")},
				[]goleak.Option{goleak.IgnoreTopFunction(pkg + "selecting")}, func() { close(r) }
		}},
		{"IgnoreTopFunction, a caller", "the named function is on the stack, not on top", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			go callsBlockedOn(r)
			return []uber.Option{uber.IgnoreTopFunction(pkg + "callsBlockedOn")},
				[]goleak.Option{goleak.IgnoreTopFunction(pkg + "callsBlockedOn")}, func() { close(r) }
		}},
		{"IgnoreAnyFunction, a caller", "the named function is anywhere on the stack", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			go callsBlockedOn(r)
			return []uber.Option{uber.IgnoreAnyFunction(pkg + "callsBlockedOn")},
				[]goleak.Option{goleak.IgnoreAnyFunction(pkg + "callsBlockedOn")}, func() { close(r) }
		}},
		{"IgnoreAnyFunction, the creator", `the "created by" function is not part of the goroutine's stack`, func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			startFollowers(1, r)
			return []uber.Option{uber.IgnoreAnyFunction(pkg + "startFollowers")},
				[]goleak.Option{goleak.IgnoreAnyFunction(pkg + "startFollowers")}, func() { close(r) }
		}},
		{"IgnoreCreatedBy, matching", "goleak v1.3.0 has no IgnoreCreatedBy: it gets the IgnoreTopFunction that selects the same goroutines (every follower parks in selecting)", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			startFollowers(3, r)
			return []uber.Option{uber.IgnoreTopFunction(pkg + "selecting")},
				[]goleak.Option{goleak.IgnoreCreatedBy(pkg + "startFollowers")}, func() { close(r) }
		}},
		{"IgnoreCreatedBy, the top function", "IgnoreCreatedBy matches the creator only (goleak v1.3.0: no option)", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			startFollowers(1, r)
			return nil, []goleak.Option{goleak.IgnoreCreatedBy(pkg + "selecting")}, func() { close(r) }
		}},
		{"IgnoreCreatedBy, one of two creators", "a goroutine of another creator is still a leak (goleak v1.3.0: the same IgnoreTopFunction as above)", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			startFollowers(2, r)
			go blockedOn(r)
			return []uber.Option{uber.IgnoreTopFunction(pkg + "selecting")},
				[]goleak.Option{goleak.IgnoreCreatedBy(pkg + "startFollowers")}, func() { close(r) }
		}},
		{"IgnoreCurrent after the goroutine started", "it existed when the option was made", func() ([]uber.Option, []goleak.Option, func()) {
			r := make(chan struct{})
			go blockedOn(r)
			return []uber.Option{uber.IgnoreCurrent()}, []goleak.Option{goleak.IgnoreCurrent()}, func() { close(r) }
		}},
		{"IgnoreCurrent before the goroutine started", "it is new since the option was made", func() ([]uber.Option, []goleak.Option, func()) {
			theirs, ours := uber.IgnoreCurrent(), goleak.IgnoreCurrent()
			r := make(chan struct{})
			go blockedOn(r)
			return []uber.Option{theirs}, []goleak.Option{ours}, func() { close(r) }
		}},
		{"os/signal loop", "signal.Notify starts the standard library's loop, never stopped", func() ([]uber.Option, []goleak.Option, func()) {
			c := make(chan os.Signal, 1)
			signal.Notify(c, os.Interrupt) // os.Interrupt exists on every platform
			return nil, nil, func() { signal.Stop(c) }
		}},
	}
}

// goleaksWait is about as long as goleak waits before it reports (20
// retries, up to 100ms apart), for the drop-in: for every goroutine, also
// those leakcheck would wait for longer because a timer might end them.
var goleaksWait = []goleak.Option{leakcheck.WithTimeout(500 * time.Millisecond), leakcheck.WithTimerBound(500 * time.Millisecond)}

// TestDifferential runs each goroutine scenario past go.uber.org/goleak's
// Find and the drop-in's Find restricted to goroutines: the verdicts agree.
// The drop-in's default (every resource) agrees too, since the scenarios
// hold nothing but goroutines.
func TestDifferential(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			theirs, ours, end := sc.setup()
			defer func() {
				end()
				require.NoError(t, goleak.Find(), "the scenario ends clean")
			}()
			want := uber.Find(theirs...)
			got := goleak.Find(append(append(ours, leakcheck.WithResources(leakcheck.Goroutines)), goleaksWait...)...)
			assert.Equal(t, want != nil, got != nil, "%s\ngoleak: %v\ndrop-in: %v", sc.reason, want, got)
			all := goleak.Find(append(ours, goleaksWait...)...)
			assert.Equal(t, want != nil, all != nil, "%s\ngoleak: %v\ndrop-in, every resource: %v", sc.reason, want, all)
		})
	}
}

// TestVerifyNoneDifferential: VerifyNone fails a test where goleak's does.
func TestVerifyNoneDifferential(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			theirs, ours, end := sc.setup()
			defer func() {
				end()
				require.NoError(t, goleak.Find(), "the scenario ends clean")
			}()
			want, got := &recordT{}, &recordT{}
			uber.VerifyNone(want, theirs...)
			goleak.VerifyNone(got, append(ours, goleaksWait...)...)
			assert.Equal(t, want.Failed(), got.Failed(), "%s\ngoleak: %s\ndrop-in: %s", sc.reason, want, got)
		})
	}
}

// Find with nothing left returns nil; with a leak, an error whose text is
// leakcheck's report.
func TestFindError(t *testing.T) {
	require.NoError(t, goleak.Find())
	r := make(chan struct{})
	defer close(r)
	go blockedOn(r)
	err := goleak.Find(leakcheck.WithTimeout(50 * time.Millisecond))
	require.Error(t, err)
	assert.Regexp(t, `^leakcheck: 1 leaked after waiting \S+: 1 goroutine`, err.Error())
	assert.Regexp(t, `\ngoroutines \(1\):\n  1 × `+regexp.QuoteMeta(pkg+"blockedOn [chan receive], created by "+pkg+"TestFindError")+` at \S*goleak_test.go:\d+\n`, err.Error())
}

// Options only VerifyNone or VerifyTestMain take are an error from Find,
// as goleak's are, and not a leak report.
func TestFindMisuse(t *testing.T) {
	err := goleak.Find(goleak.Cleanup(func(int) {}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Cleanup does not apply to Find")
	require.Error(t, uber.Find(uber.Cleanup(func(int) {})), "goleak refuses it too")

	err = goleak.Find(goleak.RunOnFailure())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "RunOnFailure() does not apply to Find")
}

// VerifyNone hands Cleanup exit code 0 when it is done, as goleak does,
// and refuses RunOnFailure, which is for VerifyTestMain only.
func TestVerifyNoneOptions(t *testing.T) {
	rt := &recordT{}
	code := -1
	goleak.VerifyNone(rt, goleak.Cleanup(func(c int) { code = c }))
	assert.Equal(t, 0, code)
	assert.False(t, rt.Failed(), rt.String())

	rt = &recordT{}
	goleak.VerifyNone(rt, goleak.RunOnFailure())
	assert.True(t, rt.Failed())
	assert.Contains(t, rt.String(), "RunOnFailure() does not apply to VerifyNone")
}

// The drop-in's options are leakcheck's: they mix in one call, either way.
func TestOptionsMix(t *testing.T) {
	r := make(chan struct{})
	defer close(r)
	go selecting(r)
	rep, err := leakcheck.Find(nil, goleak.IgnoreTopFunction(pkg+"selecting"), leakcheck.WithTimeout(50*time.Millisecond))
	require.NoError(t, err)
	assert.False(t, rep.Leaked(), "%s", rep)
	assert.NoError(t, goleak.Find(leakcheck.IgnoreTopFunction(pkg+"selecting"), leakcheck.WithTimeout(50*time.Millisecond)))
}
