package leakcheck

// The testing.TB side of the package: Check, VerifyNone, VerifyTestMain,
// Cycle, CycleAll and Soak adapt the core (Take, Find, FindCycle, RunSoak)
// to a test. Each reads its options for its own entry point, calls the
// core, and reports its verdict the same way: an attribute, artifacts with
// -artifacts, Errorf on a leak.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// verdict is what the testing layer reports: a Report, a CycleReport, a
// SoakReport.
type verdict interface {
	Leaked() bool
	failed() bool // a leak, or what could not be checked at the verdict
	String() string
	// artifacts are the files a verdict writes under the test's artifact
	// directory, by name.
	artifacts() map[string]func(path string) error
	// unchecked is what the verdict could not check, and why.
	unchecked() []string
}

// tbConfig reads the options of a testing.TB entry point; a misuse fails
// the test and returns nil.
func tbConfig(t testing.TB, e entry, opts []Option, misuse ...string) *config {
	t.Helper()
	cfg := newConfig(e, opts)
	cfg.test = t.Name()
	cfg.testFn = callerTest()
	cfg.misuse = append(cfg.misuse, misuse...)
	if err := cfg.err(); err != nil {
		t.Errorf("%v", err)
		return nil
	}
	return cfg
}

// tbReport records a verdict: as the test's "leakcheck" attribute (its
// summary, and what was not checked), as artifacts, and as the test's
// failure when it leaked (a log line, or the whole text when logAll).
// A test that already failed gets the verdict logged, not a second failure.
func tbReport(t testing.TB, v verdict, logAll bool) {
	t.Helper()
	summary, _, _ := strings.Cut(v.String(), "\n")
	attr := strings.TrimPrefix(summary, "leakcheck: ")
	if u := v.unchecked(); len(u) > 0 {
		attr += "; " + strings.Join(u, "; ")
	}
	t.Attr("leakcheck", attr)
	writeArtifacts(t, v)
	switch {
	case v.failed() && t.Failed():
		t.Logf("leakcheck: the test already failed, so what it left behind is logged, not failed:\n%s", v)
	case v.failed():
		t.Errorf("%s", v)
	case logAll:
		t.Logf("%s", v)
	default:
		t.Logf("%s", summary)
	}
}

// Check takes a baseline now and registers a cleanup that fails t if the
// test leaves anything behind: goroutines, file descriptors, sockets, OS
// threads or child processes that were not there at the baseline, after
// waiting for asynchronous teardown to settle. Call it first in the test,
// so its cleanup runs last (after the test's own cleanups and after
// t.Context is cancelled):
//
//	func TestServer(t *testing.T) {
//		leakcheck.Check(t)
//		...
//	}
//
// Checked tests that run at the same time (t.Parallel) still check their
// own goroutines, told apart by the pprof label Check puts on the test's
// goroutine; descriptors, sockets, threads and processes belong to the
// whole process, so such tests leave them to VerifyTestMain and say so in
// the test log. A test that has already failed is not failed again: Check
// looks once, without waiting, and logs what is left so the first failure
// stays on top.
func Check(t testing.TB, opts ...Option) {
	if t == nil {
		panic("leakcheck: Check needs the test's testing.TB, got nil")
	}
	t.Helper()
	cfg := tbConfig(t, inCheck, opts)
	if cfg == nil {
		return
	}
	name := t.Name()
	w := openWindow(name, cfg.testFn) // the stack was walked once, by tbConfig
	label := labelTestGoroutine(name)
	base, err := take(cfg, baselineLook)
	if err != nil {
		_, _ = w.close()
		t.Errorf("leakcheck: cannot take the baseline: %v", err)
		return
	}
	logUnsupported(t, cfg, base)
	w.witness(base)
	t.Cleanup(func() {
		t.Helper()
		overlapped, fns := w.close()
		tcfg := *cfg
		// What serial tests left while this one was parked in t.Parallel
		// is theirs.
		tcfg.current = append([]ignoredSnapshot(nil), cfg.current...)
		for _, ps := range w.parkedSnapshots {
			tcfg.current = append(tcfg.current, ignoredSnapshot{ps, "left by serial tests while this one waited in t.Parallel"})
		}
		c := &check{cfg: &tcfg, base: base, deadline: testDeadline(t, cfg.timeout), hardDeadline: testDeadline(t, cfg.timerBound()), limit: testLimit(t)}
		if len(overlapped) > 0 {
			c.byLabel(label, overlapped)
			c.blame = &blame{fn: w.fn, label: label, others: fns}
		}
		c.noSettle = t.Failed()
		rep, err := c.run()
		if err != nil {
			t.Errorf("leakcheck: %v", err)
			return
		}
		if len(overlapped) == 0 && rep.Leaked() {
			if others := otherTestsRunning(c.last); len(others) > 0 {
				// A test without a check of its own is running alongside
				// (t.Parallel): what it holds cannot be told from this
				// test's leaks, except for goroutines, by label.
				overlapped = others
				c = &check{cfg: &tcfg, base: base, deadline: time.Now(), noSettle: true}
				c.byLabel(label, others)
				c.blame = &blame{fn: w.fn, label: label, others: others}
				if rep, err = c.run(); err != nil {
					t.Errorf("leakcheck: %v", err)
					return
				}
			}
		}
		w.witness(c.last)
		if len(overlapped) > 0 && !t.Failed() && len(rep.Unchecked) > 0 {
			t.Logf("leakcheck: %s", strings.Join(rep.Unchecked, "; "))
		}
		tbReport(t, rep, false)
	})
}

// VerifyNone fails t if the process holds goroutines beyond the runtime's,
// the testing framework's and the caller's, or descriptors, sockets,
// threads or child processes beyond what it held when leakcheck was
// initialised: goleak's VerifyNone, extended to the other resources.
//
//	defer leakcheck.VerifyNone(t)
//
// Like goleak's, it cannot tell parallel tests apart; use Check for that.
func VerifyNone(t TestingT, opts ...Option) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	cfg := newConfig(inVerifyNone, opts)
	if err := cfg.err(); err != nil {
		t.Error(err)
	} else {
		c := &check{cfg: cfg, deadline: time.Now().Add(cfg.timeout), hardDeadline: time.Now().Add(cfg.timerBound())}
		if tb, ok := t.(testing.TB); ok {
			c.deadline, c.hardDeadline, c.limit = testDeadline(tb, cfg.timeout), testDeadline(tb, cfg.timerBound()), testLimit(tb)
		}
		rep, err := c.run()
		switch {
		case err != nil:
			t.Error(fmt.Sprintf("leakcheck: %v", err))
		case rep.failed():
			t.Error(rep.String())
		}
	}
	if cfg.cleanup != nil {
		cfg.cleanup(0)
	}
}

// VerifyTestMain runs the package's tests and then, if they passed (or
// always, with RunOnFailure), checks as VerifyNone does; leaks turn the
// exit code to 1 and are printed to standard error. Each leaked item names
// the test that created it where origins or labels tell; when some do not,
// it runs the test binary again once per top-level test, within a budget
// (WithBisect), and names the tests that leak when run alone. It exits
// with the code unless Cleanup is given:
//
//	func TestMain(m *testing.M) {
//		leakcheck.VerifyTestMain(m)
//	}
func VerifyTestMain(m TestingM, opts ...Option) {
	startOrigins() // before the tests: where they create what leaks
	exitCode := m.Run()
	cfg := newConfig(inVerifyTestMain, opts)
	cleanup := cfg.cleanup
	if cleanup == nil {
		cleanup = os.Exit
	}
	defer func() { cleanup(exitCode) }()
	if exitCode != 0 && !cfg.runOnFailure {
		return
	}
	if err := cfg.err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		exitCode = 1
		return
	}
	c := &check{cfg: cfg, deadline: time.Now().Add(cfg.timeout), hardDeadline: time.Now().Add(cfg.timerBound())}
	rep, err := c.run()
	run := "successful"
	if exitCode != 0 {
		run = "unsuccessful" // RunOnFailure: the tests' own failure code is kept
	}
	fail := func() {
		if exitCode == 0 {
			exitCode = 1
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "leakcheck: errors on %s test run: %v\n", run, err)
		fail()
	case rep.failed():
		fmt.Fprintf(os.Stderr, "leakcheck: errors on %s test run:\n%s\n", run, rep)
		fail()
		budget := DefaultBisectBudget
		if cfg.bisectSet {
			budget = cfg.bisect
		}
		if rep.Leaked() && budget > 0 && os.Getenv(bisectChildEnv) == "" && needsBisect(rep) {
			fmt.Fprintln(os.Stderr, bisect(budget))
		}
	}
}

// Cycle runs the create-many/delete-many pattern in a test and fails it
// when destroying the objects does not give back what creating them took.
// create makes one object and returns the function that destroys it; Cycle
// calls it n times, then every destroy function, most recent first:
//
//	rep := leakcheck.Cycle(t, 200, func() func() {
//		f, err := proxy.Forward("127.0.0.1:0", backend)
//		require.NoError(t, err)
//		return func() { proxy.Delete(f) }
//	})
//	t.Logf("per create: %v", rep.PerCreate())
//
// See FindCycle for the steps (a warm-up cycle comes first). The report is
// returned for assertions and logged; on a leak the test fails with it.
// Use CycleAll for code that is created and torn down in bulk.
func Cycle(t testing.TB, n int, create func() (destroy func()), opts ...Option) *CycleReport {
	t.Helper()
	var destroys []func()
	createAll := func(k int) error {
		for range k {
			d := create()
			if d == nil {
				return errors.New("the create step returned a nil destroy function")
			}
			destroys = append(destroys, d)
		}
		return nil
	}
	destroyAll := func() error {
		for i := len(destroys) - 1; i >= 0; i-- {
			destroys[i]()
		}
		destroys = destroys[:0]
		return nil
	}
	if create == nil {
		createAll = nil
	}
	return cycleTB(t, n, createAll, destroyAll, opts)
}

// CycleAll is Cycle for code that is created and destroyed in bulk:
// createAll(k) creates k objects, destroyAll destroys every object created.
func CycleAll(t testing.TB, n int, createAll func(n int), destroyAll func(), opts ...Option) *CycleReport {
	t.Helper()
	var ca func(int) error
	var da func() error
	if createAll != nil {
		ca = func(k int) error { createAll(k); return nil }
	}
	if destroyAll != nil {
		da = func() error { destroyAll(); return nil }
	}
	return cycleTB(t, n, ca, da, opts)
}

func cycleTB(t testing.TB, n int, createAll func(int) error, destroyAll func() error, opts []Option) *CycleReport {
	t.Helper()
	var misuse []string
	if n < 1 {
		misuse = append(misuse, fmt.Sprintf("Cycle(t, %d, …): create at least one object", n))
	}
	if createAll == nil || destroyAll == nil {
		misuse = append(misuse, "Cycle needs a create step and a destroy step; got nil")
	}
	cfg := tbConfig(t, inCycle, opts, misuse...)
	if cfg == nil {
		return nil
	}
	labelTestGoroutine(t.Name())
	rep, err := runCycle(cfg, n, createAll, destroyAll, testDeadline(t, cfg.timeout))
	if err != nil {
		t.Errorf("leakcheck: %v", err)
		return nil
	}
	tbReport(t, rep, false)
	return rep
}

// Soak runs op repeatedly in a test and fails it when a resource grows with
// the iterations: a socket per health check, a thread per restart. It
// samples the totals every iteration and per-category counts at an interval,
// fits a robust (Theil–Sen) slope after a warm-up share, so a cache that
// fills and stays flat passes while +1 per iteration fails even with noise,
// and names the culprits:
//
//	leakcheck.Soak(t, func(i int) { monitor.CheckOnce() }, leakcheck.WithIterations(300))
//
// Long soaks log a progress line every few seconds. With -artifacts (Go ≥
// 1.26) the samples are written to the test's artifact directory as
// soak.json and soak.svg (a line chart per category).
func Soak(t testing.TB, op func(i int), opts ...Option) *SoakReport {
	t.Helper()
	var misuse []string
	if op == nil {
		misuse = append(misuse, "Soak needs an operation to repeat; got nil")
	}
	cfg := tbConfig(t, inSoak, opts, misuse...)
	if cfg == nil {
		return nil
	}
	cfg.soak.progress = func(s string) { t.Logf("%s", s) }
	labelTestGoroutine(t.Name())
	rep, err := runSoak(cfg, func(i int) error { op(i); return nil })
	if err != nil {
		t.Errorf("leakcheck: %v", err)
		return nil
	}
	tbReport(t, rep, true)
	return rep
}

// parallelNote says why process-wide resources are not checked when other
// tests ran alongside, naming them.
func parallelNote(others []string) string {
	return fmt.Sprintf("overlapped %s (t.Parallel), so what they hold cannot be attributed; use VerifyTestMain to check them for the whole package", joinAnd(others))
}

// byLabel makes the check attribute goroutines by the test's pprof label
// and leave process-wide resources to VerifyTestMain.
func (c *check) byLabel(label string, others []string) {
	c.label = label
	c.processWideNote = parallelNote(others)
}

// otherTestsRunning returns the tests other than the calling one (and its
// parents, which wait for it) that are running their body in the verdict's
// goroutine dump: a goroutine with testing.tRunner on its stack that is not
// parked in one of testing's waits, named by its test function.
func otherTestsRunning(verdict *Snapshot) []string {
	if verdict == nil || verdict.goroutines == nil {
		return nil
	}
	gs := verdict.goroutines.dump
	if gs == nil {
		gs = verdict.goroutines.tests // a check's verdict parses only those
	}
	self := gostack.CurrentID()
	var out []string
	for _, g := range gs {
		if g.ID == self || gostack.RuntimeOwned(g) || !g.HasFunction("testing.tRunner") || testFinished(g) {
			continue
		}
		out = append(out, testFunction(g))
	}
	return out
}

// testFinished reports whether a tRunner goroutine has run its test's body
// and cleanups and is only reporting the result: its callee is tRunner's
// last deferred function, not inside a cleanup. A subtest whose Run has
// returned to its parent is still seen so for a moment.
func testFinished(g gostack.Goroutine) bool {
	return tRunnerCallee(g) == "testing.tRunner.func1" && !g.HasFunction("testing.(*common).runCleanup")
}

// testFunction names the test a tRunner goroutine runs: the frame that
// tRunner called.
func testFunction(g gostack.Goroutine) string {
	name := tRunnerCallee(g)
	switch {
	case name == "":
		return fmt.Sprintf("a test (goroutine %d)", g.ID)
	case strings.HasPrefix(name, "testing.tRunner.func"):
		// A deferred function of tRunner: the test's body has returned;
		// its cleanups run.
		return fmt.Sprintf("a test's cleanups (goroutine %d)", g.ID)
	}
	// "example.com/pkg.TestX.func1" → "TestX.func1".
	name = name[strings.LastIndexByte(name, '/')+1:]
	if _, rest, ok := strings.Cut(name, "."); ok {
		name = rest
	}
	return name
}

// testDeadline is when a check in t's cleanup must give up: the timeout from
// now, but never so late that the test binary's own -timeout fires first.
func testDeadline(t testing.TB, timeout time.Duration) time.Time {
	d := time.Now().Add(timeout)
	if limit := testLimit(t); !limit.IsZero() && limit.Before(d) {
		d = limit
	}
	return d
}

// testLimit is when a check in t must have reported: a moment before the
// test binary's -timeout alarm, to leave it time to print the report. Zero
// when the test has no deadline.
func testLimit(t testing.TB) time.Time {
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := td.Deadline(); ok {
			margin := min(time.Until(dl)/10, time.Second)
			return dl.Add(-margin)
		}
	}
	return time.Time{}
}

// labelTestGoroutine puts the test's name on the calling goroutine as a
// pprof label and returns the label's value.
func labelTestGoroutine(name string) string {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(labelKey, name)))
	return name
}

// A window is the time between a Check's baseline and its verdict. Windows
// of unrelated tests whose bodies run at the same time cannot attribute
// process-wide resources. A test parked in t.Parallel (its Check came
// first; it waits for the serial tests to end) runs no body: the serial
// tests that run meanwhile do not overlap it, and what they leave is not
// its own either (see parkedSnapshots).
type window struct {
	name string
	gid  uint64 // the test's goroutine, to see whether it is parked
	fn   string // the test's function, as creation stacks show it
	// overlapped names the tests whose windows overlapped this one, and
	// overlappedFns their functions.
	overlapped, overlappedFns []string
	parked                    bool // seen parked in t.Parallel when another window opened
	// parkedSnapshots are looks other checks took while this test was
	// parked: what they hold was there before this test's body ran.
	parkedSnapshots []*Snapshot
}

var windows struct {
	sync.Mutex
	open map[*window]struct{}
}

func openWindow(name, fn string) *window {
	w := &window{name: name, gid: gostack.CurrentID(), fn: fn}
	windows.Lock()
	defer windows.Unlock()
	if windows.open == nil {
		windows.open = make(map[*window]struct{})
	}
	var parked map[uint64]bool
	for o := range windows.open {
		// A subtest runs inside its parent's window: nesting, not overlap.
		if nested(o.name, name) || nested(name, o.name) {
			continue
		}
		if parked == nil {
			parked = parkedTests()
		}
		if parked[o.gid] {
			o.parked = true
			continue
		}
		o.overlapped = append(o.overlapped, name)
		o.overlappedFns = append(o.overlappedFns, fn)
		w.overlapped = append(w.overlapped, o.name)
		w.overlappedFns = append(w.overlappedFns, o.fn)
	}
	windows.open[w] = struct{}{}
	return w
}

// parkedTests returns the goroutines of tests parked in t.Parallel (see
// parkedInParallel).
func parkedTests() map[uint64]bool {
	gs, err := gostack.All()
	if err != nil {
		return nil
	}
	byID := make(map[uint64]gostack.Goroutine, len(gs))
	for _, g := range gs {
		byID[g.ID] = g
	}
	out := map[uint64]bool{}
	for _, g := range gs {
		if parkedInParallel(g, byID) {
			out[g.ID] = true
		}
	}
	return out
}

// parkedInParallel reports whether g is a test parked in t.Parallel: blocked
// in its wait, or on its way into it while its parent's body still runs
// (the parent releases its parallel subtests only when its body has
// returned; or, blocked, for a free slot of -test.parallel). A test in
// t.Parallel that is neither has been released: runnable, not yet
// scheduled, its body about to run (on a busy machine the sibling released
// with it can run its whole body meanwhile, and would take it for parked,
// and itself for a serial test).
func parkedInParallel(g gostack.Goroutine, byID map[uint64]gostack.Goroutine) bool {
	if !g.HasFunction("testing.(*T).Parallel") {
		return false
	}
	if strings.HasPrefix(g.State, "chan receive") {
		return true
	}
	parent, ok := byID[g.CreatorID] // t.Run starts a subtest from its parent's goroutine
	return ok && bodyRunning(parent)
}

// tRunnerCallee returns the function testing.tRunner called on g's stack:
// the test's function while its body runs, one of tRunner's deferred
// functions after; "" if g runs no test.
func tRunnerCallee(g gostack.Goroutine) string {
	for i, f := range g.Frames {
		if f.Func == "testing.tRunner" && i > 0 {
			return g.Frames[i-1].Func
		}
	}
	return ""
}

// bodyRunning reports whether g is a test goroutine still in its body.
func bodyRunning(g gostack.Goroutine) bool {
	callee := tRunnerCallee(g)
	return callee != "" && !strings.HasPrefix(callee, "testing.tRunner.func")
}

// witness hands a look this check took to every window whose test is
// parked in t.Parallel right now: what it holds is not their doing. A test
// seen parked before that has resumed since gets nothing more.
func (w *window) witness(s *Snapshot) {
	if s == nil {
		return
	}
	windows.Lock()
	defer windows.Unlock()
	var parked map[uint64]bool
	for o := range windows.open {
		if o == w || !o.parked {
			continue
		}
		if parked == nil {
			parked = parkedTests()
		}
		if !parked[o.gid] {
			o.parked = false // resumed: its body runs
			continue
		}
		o.parkedSnapshots = append(o.parkedSnapshots, s)
	}
}

// nested reports whether test child is parent or one of its subtests.
func nested(parent, child string) bool {
	return child == parent || strings.HasPrefix(child, parent+"/")
}

// close ends the window and returns the tests that overlapped it, and
// their functions. Tests that resumed from t.Parallel together opened
// their windows while parked: any unrelated window still open and not
// parked now has a body running beside this one.
func (w *window) close() (names, fns []string) {
	windows.Lock()
	defer windows.Unlock()
	delete(windows.open, w)
	var parked map[uint64]bool
	for o := range windows.open {
		if nested(o.name, w.name) || nested(w.name, o.name) || slices.Contains(w.overlapped, o.name) {
			continue
		}
		if parked == nil {
			parked = parkedTests()
		}
		if parked[o.gid] {
			continue
		}
		o.parked = false
		o.overlapped = append(o.overlapped, w.name)
		o.overlappedFns = append(o.overlappedFns, w.fn)
		w.overlapped = append(w.overlapped, o.name)
		w.overlappedFns = append(w.overlappedFns, o.fn)
	}
	return w.overlapped, w.overlappedFns
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
	if !cfg.target.self && cfg.resources&Goroutines != 0 {
		o, _ := unsupportedOnce.LoadOrStore("pid-goroutines", new(sync.Once))
		o.(*sync.Once).Do(func() {
			t.Logf("leakcheck: goroutines are checked only in the current process, not in %s (said once)", cfg.target)
		})
	}
}

// writeArtifacts writes the verdict's files under t.ArtifactDir when the
// test binary runs with -artifacts (Go ≥ 1.26).
func writeArtifacts(t testing.TB, v verdict) {
	if lookupFlag("test.artifacts") != "true" {
		return
	}
	ad, ok := t.(interface{ ArtifactDir() string })
	if !ok {
		return
	}
	files := v.artifacts()
	if len(files) == 0 {
		return
	}
	dir := ad.ArtifactDir()
	for name, write := range files {
		if err := write(filepath.Join(dir, name)); err != nil {
			t.Logf("leakcheck: writing %s: %v", name, err)
		}
	}
}
