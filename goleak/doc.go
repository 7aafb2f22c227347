// Package goleak is go.uber.org/goleak's API on top of leakcheck: it checks
// goroutines, as goleak does, and file descriptors, sockets, OS threads and
// child processes too. Changing the import line is the whole migration:
//
//	import "github.com/leakcheck/go/goleak" // was "go.uber.org/goleak"
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
//	}
//
//	func TestWorker(t *testing.T) {
//		defer goleak.VerifyNone(t)
//		...
//	}
//
// Every name of goleak v1.3.0 is here with the same signature (Find,
// VerifyNone, VerifyTestMain, TestingT, TestingM, Option,
// IgnoreTopFunction, IgnoreAnyFunction, IgnoreCurrent, Cleanup), and so are
// IgnoreCreatedBy and RunOnFailure from goleak's main branch.
//
// # What changes
//
// More is checked. Besides goroutines, a leak is a file descriptor, a
// socket, a named OS thread or a child process that the process did not
// hold when it started (when package leakcheck was initialised), beyond
// the Go runtime's and the testing framework's own. A test that leaves a
// file open, a listener listening or a child process unwaited fails, where
// goleak passed it. These resources are read from /proc and netlink, so
// they are checked on Linux; elsewhere only goroutines are, as by goleak.
//
// IgnoreCurrent ignores everything the process holds when it is called, of
// every kind: a listener TestMain opens before
// VerifyTestMain(m, goleak.IgnoreCurrent()) is not a leak.
//
// Reports are leakcheck's: one counted summary line, then what leaked
// grouped by culprit (goroutines by function and creator, descriptors by
// kind, sockets by protocol and state), instead of goleak's full stack of
// each goroutine:
//
//	leakcheck: 2 leaked after waiting 3s: 1 goroutine, 1 fd
//	goroutines (1):
//	  1 × example.com/app.(*Tailer).follow [chan receive], created by example.com/app.(*Tailer).Start at app/tailer.go:31
//	      goroutine 21 [chan receive] at /src/app/tailer.go:40
//	fds (1):
//	  file (1):
//	      fd 7 file /tmp/app-1234/current.log
//
// Leaks are waited for as leakcheck waits: polling with back-off for up to
// leakcheck.DefaultTimeout (goleak gives up after about half a second), and
// a clean check returns at once.
//
// RunOnFailure does what goleak's main branch means it to: VerifyTestMain
// reports leaks after failed tests too. (goleak's own VerifyTestMain
// currently rejects it as if it were passed to Find, uber-go/goleak#132.)
//
// # Checking goroutines only
//
// Option is leakcheck.Option, so leakcheck's options mix with these. To
// check what goleak checks and nothing else:
//
//	defer goleak.VerifyNone(t, leakcheck.WithResources(leakcheck.Goroutines))
//
// and to ignore one kind of descriptor rather than all of them, pass
// leakcheck.IgnoreFD, leakcheck.IgnoreSocket or leakcheck.IgnoreProcess.
//
// # Limits
//
// Like goleak's, VerifyNone cannot tell tests that run in parallel apart.
// leakcheck.Check can, for goroutines: it labels the test's goroutine and
// attributes the goroutines it starts to it.
package goleak
