package leakcheck

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/gostack"
)

// TestingT is what VerifyNone needs of a test: goleak's TestingT.
type TestingT interface {
	Error(args ...any)
}

// TestingM is what VerifyTestMain needs: *testing.M.
type TestingM interface {
	Run() int
}

// labelKey is the pprof label leakcheck puts on a checked test's goroutine.
// Goroutines inherit their creator's labels, so every goroutine the test
// starts (and every goroutine those start) carries the test's name.
const labelKey = "leakcheck.test"

// Check takes a baseline now and registers a cleanup that fails t if the
// test leaves anything behind: goroutines, file descriptors, sockets or OS
// threads that were not there at the baseline, after waiting for
// asynchronous teardown to settle. Call it first in the test, so its cleanup
// runs last (after the test's own cleanups and after t.Context is
// cancelled):
//
//	func TestServer(t *testing.T) {
//		leakcheck.Check(t)
//		...
//	}
//
// Checked tests that run at the same time (t.Parallel) still check their
// own goroutines, told apart by the pprof label Check puts on the test's
// goroutine; descriptors, sockets and threads belong to the whole process,
// so such tests leave them to VerifyTestMain and say so in the test log.
// A test that has already failed is not failed again: Check looks once,
// without waiting, and logs what is left so the first failure stays on top.
func Check(t testing.TB, opts ...Option) {
	if t == nil {
		panic("leakcheck: Check needs the test's testing.TB, got nil")
	}
	t.Helper()
	cfg := newConfig(opts)
	if cfg.cleanup != nil {
		cfg.misuse = append(cfg.misuse, "Cleanup is for VerifyNone and VerifyTestMain; a Check cleans up through t.Cleanup")
	}
	if err := cfg.err(); err != nil {
		t.Errorf("%v", err)
		return
	}
	name := t.Name()
	w := openWindow(name)
	label := labelTestGoroutine(name)
	base, err := take(cfg, baselineLook)
	if err != nil {
		w.close()
		t.Errorf("leakcheck: cannot take the baseline: %v", err)
		return
	}
	logUnsupported(t, cfg, base)
	t.Cleanup(func() {
		t.Helper()
		overlapped := w.close()
		c := &check{cfg: cfg, base: base, deadline: testDeadline(t, cfg.timeout)}
		if overlapped {
			c.byLabel(label)
		}
		failed := t.Failed()
		c.noSettle = failed
		rep, err := c.run()
		if err != nil {
			t.Errorf("leakcheck: %v", err)
			return
		}
		if !overlapped && rep.Leaked() && otherTestRunning(c.last) {
			// A test without a check of its own is running alongside
			// (t.Parallel): what it holds cannot be told from this
			// test's leaks, except for goroutines, by label.
			overlapped = true
			c = &check{cfg: cfg, base: base, deadline: time.Now(), noSettle: true}
			c.byLabel(label)
			if rep, err = c.run(); err != nil {
				t.Errorf("leakcheck: %v", err)
				return
			}
		}
		if overlapped && !failed {
			t.Logf("leakcheck: %s", c.processWideNote)
		}
		writeArtifacts(t, rep)
		if !rep.Leaked() {
			setAttr(t, rep)
			return
		}
		if failed {
			t.Logf("leakcheck: the test already failed, so what it left behind is logged, not failed:\n%s", rep)
			return
		}
		setAttr(t, rep)
		t.Errorf("%s", rep)
	})
}

// VerifyNone fails t if the process holds goroutines beyond the runtime's,
// the testing framework's and the caller's, or descriptors, sockets or
// threads beyond what it held when leakcheck was initialised: goleak's
// VerifyNone, extended to the other resources.
//
//	defer leakcheck.VerifyNone(t)
//
// Like goleak's, it cannot tell parallel tests apart; use Check for that.
func VerifyNone(t TestingT, opts ...Option) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	cfg := newConfig(opts)
	cleanup := cfg.cleanup
	cfg.cleanup = nil
	if err := cfg.err(); err != nil {
		t.Error(err)
	} else {
		c := &check{cfg: cfg, deadline: time.Now().Add(cfg.timeout)}
		if tb, ok := t.(testing.TB); ok {
			c.deadline = testDeadline(tb, cfg.timeout)
		}
		rep, err := c.run()
		switch {
		case err != nil:
			t.Error(fmt.Sprintf("leakcheck: %v", err))
		case rep.Leaked():
			t.Error(rep.String())
		}
	}
	if cleanup != nil {
		cleanup(0)
	}
}

// VerifyTestMain runs the package's tests and then, if they passed, checks
// as VerifyNone does; leaks turn the exit code to 1 and are printed to
// standard error. It exits with that code unless Cleanup is given:
//
//	func TestMain(m *testing.M) {
//		leakcheck.VerifyTestMain(m)
//	}
func VerifyTestMain(m TestingM, opts ...Option) {
	exitCode := m.Run()
	cfg := newConfig(opts)
	cleanup := cfg.cleanup
	cfg.cleanup = nil
	if cleanup == nil {
		cleanup = os.Exit
	}
	defer func() { cleanup(exitCode) }()
	if exitCode != 0 {
		return
	}
	if err := cfg.err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		exitCode = 1
		return
	}
	c := &check{cfg: cfg, deadline: time.Now().Add(cfg.timeout)}
	rep, err := c.run()
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "leakcheck: errors on successful test run: %v\n", err)
		exitCode = 1
	case rep.Leaked():
		fmt.Fprintf(os.Stderr, "leakcheck: errors on successful test run:\n%s\n", rep)
		exitCode = 1
	}
}

// parallelNote is what a check says when another test ran alongside it.
const parallelNote = "fds, sockets and threads not checked: another test ran at the same time (t.Parallel), so what it holds cannot be attributed; use VerifyTestMain to check them for the whole package"

// byLabel makes the check attribute goroutines by the test's pprof label
// and leave process-wide resources to VerifyTestMain.
func (c *check) byLabel(label string) {
	c.label = label
	c.processWideNote = parallelNote
}

// otherTestRunning reports whether, in the verdict's goroutine dump, a test
// other than the calling one (and its parents, which wait for it) is
// running its body: a goroutine with testing.tRunner on its stack that is
// not parked in one of testing's waits.
func otherTestRunning(verdict *Snapshot) bool {
	if verdict == nil || verdict.goroutines == nil || verdict.goroutines.dump == nil {
		return false
	}
	self := gostack.CurrentID()
	for _, g := range verdict.goroutines.dump {
		if g.ID == self || gostack.RuntimeOwned(g) {
			continue
		}
		if g.HasFunction("testing.tRunner") {
			return true
		}
	}
	return false
}

// testDeadline is when a check in t's cleanup must give up: the timeout from
// now, but never so late that the test binary's own -timeout fires first.
func testDeadline(t testing.TB, timeout time.Duration) time.Time {
	d := time.Now().Add(timeout)
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := td.Deadline(); ok {
			// Leave the test binary a moment to report before its alarm.
			margin := min(time.Until(dl)/10, time.Second)
			if limit := dl.Add(-margin); limit.Before(d) {
				d = limit
			}
		}
	}
	return d
}

// labelTestGoroutine puts the test's name on the calling goroutine as a
// pprof label and returns the label's value.
func labelTestGoroutine(name string) string {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(labelKey, name)))
	return name
}

// A window is the time between a Check's baseline and its verdict. Windows
// of unrelated tests that overlap cannot attribute process-wide resources.
type window struct {
	name       string
	overlapped bool
}

var windows struct {
	sync.Mutex
	open map[*window]struct{}
}

func openWindow(name string) *window {
	windows.Lock()
	defer windows.Unlock()
	w := &window{name: name}
	if windows.open == nil {
		windows.open = make(map[*window]struct{})
	}
	for o := range windows.open {
		// A subtest runs inside its parent's window: nesting, not overlap.
		if nested(o.name, name) || nested(name, o.name) {
			continue
		}
		o.overlapped = true
		w.overlapped = true
	}
	windows.open[w] = struct{}{}
	return w
}

// nested reports whether test child is parent or one of its subtests.
func nested(parent, child string) bool {
	return child == parent || strings.HasPrefix(child, parent+"/")
}

// close ends the window and reports whether another one overlapped it.
func (w *window) close() bool {
	windows.Lock()
	defer windows.Unlock()
	delete(windows.open, w)
	return w.overlapped
}

var unsupportedOnce sync.Map // Resource → *sync.Once

// logUnsupported says once per process and resource what cannot be checked
// on this platform or for this target, and goes on with the rest.
func logUnsupported(t testing.TB, cfg *config, base *Snapshot) {
	t.Helper()
	for r, err := range base.unsupported {
		o, _ := unsupportedOnce.LoadOrStore(r, new(sync.Once))
		o.(*sync.Once).Do(func() { t.Logf("leakcheck: %s not checked: %v (said once)", r, err) })
	}
	if cfg.pid != 0 && cfg.resources&Goroutines != 0 {
		o, _ := unsupportedOnce.LoadOrStore("pid-goroutines", new(sync.Once))
		o.(*sync.Once).Do(func() {
			t.Logf("leakcheck: goroutines are checked only in the current process, not in pid %d (said once)", cfg.pid)
		})
	}
}

// setAttr records the verdict as a test attribute (visible in go test -json).
func setAttr(t testing.TB, rep *Report) {
	summary, _, _ := strings.Cut(rep.String(), "\n")
	t.Attr("leakcheck", strings.TrimPrefix(summary, "leakcheck: "))
}

// writeArtifacts writes the full report under t.ArtifactDir when the test
// binary runs with -artifacts (Go ≥ 1.26).
func writeArtifacts(t testing.TB, rep *Report) {
	if lookupFlag("test.artifacts") != "true" || !rep.Leaked() {
		return
	}
	ad, ok := t.(interface{ ArtifactDir() string })
	if !ok {
		return
	}
	p := filepath.Join(ad.ArtifactDir(), "leakcheck.txt")
	if err := os.WriteFile(p, []byte(rep.String()+"\n\n"+rep.details()), 0o644); err != nil {
		t.Logf("leakcheck: writing %s: %v", p, err)
	}
}

// lookupFlag returns the value of a command-line flag, "" if undefined.
func lookupFlag(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// testingFlags name files the testing package itself opens (in
// testing.(*M).Run, before any test): they are never a test's leak.
var testingFlags = []string{
	"test.testlogfile", "test.cpuprofile", "test.memprofile", "test.blockprofile",
	"test.mutexprofile", "test.trace", "test.coverprofile",
}

// isTestingFile reports whether fd is a file the testing framework opened.
func isTestingFile(fd fdsnap.FD) bool {
	p := fd.Path()
	if p == "" {
		return false
	}
	outdir := ""
	if f := flag.Lookup("test.outputdir"); f != nil {
		outdir = f.Value.String()
	}
	for _, name := range testingFlags {
		f := flag.Lookup(name)
		if f == nil {
			continue
		}
		v := f.Value.String()
		if v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			if outdir != "" {
				v = filepath.Join(outdir, v)
			} else if abs, err := filepath.Abs(v); err == nil {
				v = abs
			}
		}
		if p == v {
			return true
		}
	}
	return false
}
