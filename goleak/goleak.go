package goleak

import "github.com/leakcheck/go/leakcheck"

// TestingT is what VerifyNone needs of a test: *testing.T, *testing.B, or
// anything with goleak's Error method.
type TestingT = leakcheck.TestingT

// TestingM is what VerifyTestMain needs: *testing.M.
type TestingM = leakcheck.TestingM

// Option configures Find, VerifyNone and VerifyTestMain. It is
// leakcheck.Option, so leakcheck's own options (WithResources, WithTimeout,
// IgnoreFD, …) can be passed alongside these.
type Option = leakcheck.Option

// Find looks for goroutines beyond the runtime's, the testing framework's
// and the caller's, and for descriptors, sockets, threads and child
// processes beyond what the process held when it started, after waiting
// for them to go away. It returns nil when there are none, and otherwise an
// error whose text is leakcheck's report of them. Cleanup and RunOnFailure
// cannot be passed to Find: it returns an error saying so.
func Find(options ...Option) error {
	rep, err := leakcheck.Find(nil, options...)
	if err != nil {
		return err
	}
	return rep.Err()
}

// VerifyNone fails t, with Find's report, if Find finds anything:
//
//	defer goleak.VerifyNone(t)
//
// Like goleak's, it cannot tell tests running in parallel apart: what a
// parallel sibling holds fails this test too. Use VerifyTestMain for
// parallel tests, or leakcheck.Check, which attributes goroutines to the
// test that started them.
func VerifyNone(t TestingT, options ...Option) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	leakcheck.VerifyNone(t, options...)
}

// VerifyTestMain runs the package's tests and then, if they passed (or
// always, with RunOnFailure), looks for leaks as Find does. Leaks are
// printed to standard error and turn the exit code to 1. It then exits with
// the code, or hands it to the function given with Cleanup:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m)
//	}
//
// Like goleak's, and unlike leakcheck.VerifyTestMain, it does not run the
// test binary again to find the test behind a leak, which would repeat
// TestMain's set-up once per test; pass leakcheck.WithBisect to have it do
// so.
func VerifyTestMain(m TestingM, options ...Option) {
	leakcheck.VerifyTestMain(m, append([]Option{leakcheck.WithBisect(0)}, options...)...)
}

// IgnoreTopFunction ignores goroutines whose stack has function f on top.
// f is fully qualified: "go.opencensus.io/stats/view.(*worker).start".
func IgnoreTopFunction(f string) Option { return leakcheck.IgnoreTopFunction(f) }

// IgnoreAnyFunction ignores goroutines with function f anywhere in their
// stack. f is fully qualified: "example.com/pkg.(*Pool).worker".
func IgnoreAnyFunction(f string) Option { return leakcheck.IgnoreAnyFunction(f) }

// IgnoreCreatedBy ignores goroutines started by function f: the one the
// "created by" line of their stack names. f is fully qualified.
func IgnoreCreatedBy(f string) Option { return leakcheck.IgnoreCreatedBy(f) }

// IgnoreCurrent ignores everything the process holds when IgnoreCurrent is
// called: its goroutines, as goleak's IgnoreCurrent does, and its file
// descriptors, sockets, threads and child processes too. Call it where the
// shared set-up is done, before the code under test runs.
func IgnoreCurrent() Option { return leakcheck.IgnoreCurrent() }

// Cleanup makes VerifyTestMain call cleanupFunc with the exit code instead
// of exiting (cleanupFunc usually tears down shared fixtures and calls
// os.Exit), and VerifyNone call cleanupFunc(0) when it is done. Find does
// not accept it.
func Cleanup(cleanupFunc func(exitCode int)) Option { return leakcheck.Cleanup(cleanupFunc) }

// RunOnFailure makes VerifyTestMain look for leaks even when the tests
// failed; by default it looks only after a successful run.
func RunOnFailure() Option { return leakcheck.RunOnFailure() }
