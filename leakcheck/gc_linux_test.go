package leakcheck_test

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/gostack"
	"github.com/leakcheck/go/leakcheck"
)

// openAndDrop opens a file and drops every reference to it: only the
// *os.File finalizer will ever close it.
func openAndDrop(t *testing.T) {
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Fd()
}

// A file nobody closed, that only the garbage collector closes at the
// verdict's collection, is still a leak, and said to be one.
func TestClosedOnlyByTheCollector(t *testing.T) {
	ft := runCheck(t, func() { openAndDrop(t) }, short, leakcheck.WithResources(leakcheck.FDs))
	msg := ft.errorText()
	assert.Contains(t, msg, "fds (1):", msg)
	assert.Contains(t, msg, "file "+os.Args[0], msg)
	assert.Contains(t, msg, "closed only by the garbage collector: nothing called Close", msg)
}

// cache is the go-cache pattern: a janitor goroutine that runs until the
// cache becomes garbage, when a finalizer on the wrapper stops it.
type cache struct{ *cacheState }

type cacheState struct{ stop chan struct{} }

func newCache() *cache {
	st := &cacheState{stop: make(chan struct{})}
	go func() { // the janitor
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-st.stop:
				return
			}
		}
	}()
	c := &cache{st}
	runtime.SetFinalizer(c, func(c *cache) { close(c.stop) })
	return c
}

// A goroutine a finalizer stops when its owner becomes garbage is no leak.
func TestJanitorStoppedByAFinalizerIsClean(t *testing.T) {
	ft := runCheck(t, func() {
		c := newCache()
		_ = c
	}, short)
	assert.Empty(t, ft.errorText())
	if !strings.Contains(ft.attrs["leakcheck"], "goroutines stopped by a finalizer") {
		// Where the runtime proves leaks (Go 1.27), its collection runs
		// during the wait and the janitor is gone before the verdict.
		assert.True(t, gostackCanProve(), "counted, not hidden: %s", ft.attrs["leakcheck"])
	}
}

func gostackCanProve() bool { return gostack.CanProve() }

// A verdict whose collection does not finish (on one CPU a goroutine that
// allocates without pause held runtime.GC up for minutes) reports without
// it and says so. While that collection still runs it is leakcheck's own
// goroutine, counted and not reported by a check whose window it started
// in, and checks say finalizers may have run during their wait; once it is
// over, they no longer say it.
func TestCollectionGivenUp(t *testing.T) {
	release := leakcheck.StallCollections(200 * time.Millisecond)
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	outer := newFakeT(t, t.Name()) // the inner check is its subtest
	leakcheck.Check(outer, short)

	stop := make(chan struct{})
	inner := newFakeT(t, t.Name()+"/inner")
	leakcheck.Check(inner, short)
	go func() { <-stop }()
	inner.finish()
	msg := inner.errorText()
	assert.Contains(t, msg, "goroutines (1):", msg)
	assert.Contains(t, msg, "no garbage collection before this verdict: it had not finished after 200ms", msg)
	assert.Equal(t, int32(1), leakcheck.CollectionsRunning(), "the collection given up on still runs")

	const caveat = "descriptors closed only by a finalizer may have passed: a garbage collection a verdict gave up waiting for was still running"
	close(stop) // the inner test's leak, which the outer check would report too
	outer.finish()
	assert.Empty(t, outer.errorText(), "the stalled collection's goroutine is not the outer test's leak")
	assert.Contains(t, outer.attrs["leakcheck"], "1 leakcheck's own goroutines ignored", outer.attrs["leakcheck"])
	assert.Contains(t, outer.attrs["leakcheck"], caveat, outer.attrs["leakcheck"])

	release()
	released = true
	assert.Eventually(t, func() bool { return leakcheck.CollectionsRunning() == 0 }, 10*time.Second, 5*time.Millisecond)
	ft := runCheck(t, func() {}, short)
	assert.Empty(t, ft.errorText())
	assert.NotContains(t, ft.attrs["leakcheck"], "gave up waiting", ft.attrs["leakcheck"])
}

// The verdict's collector is leakcheck's own goroutine while it collects,
// counted as such; caught on its way out (a bisection re-run on a busy
// machine reported it: "runtime.goexit1 [runnable], created by
// …collectGarbage"), it is gone, like any goroutine whose function
// returned, and neither reported nor counted; a user's goroutine that is
// blocked is reported.
func TestCollectorIsOwnOnItsWayOut(t *testing.T) {
	gs, err := gostack.ParseBytes([]byte(`goroutine 5 [runnable]:
runtime.goexit1()
	/usr/local/go/src/runtime/proc.go:4475 +0x1c
runtime.goexit0(...)
created by github.com/leakcheck/go/leakcheck.collectGarbage in goroutine 1
	/work/main/leakcheck/find.go:483 +0x8d

goroutine 6 [sleep]:
time.Sleep(0x5f5e100)
	/usr/local/go/src/runtime/time.go:363 +0x165
github.com/leakcheck/go/leakcheck.collectGarbage.func1()
	/work/main/leakcheck/find.go:495 +0x11b
created by github.com/leakcheck/go/leakcheck.collectGarbage in goroutine 1
	/work/main/leakcheck/find.go:483 +0x8d

goroutine 7 [chan receive]:
example.com/pkg.startWorker.func1()
	/tmp/bis/pkg_test.go:31 +0x25
created by example.com/pkg.startWorker in goroutine 6
	/tmp/bis/pkg_test.go:31 +0x1a
`))
	require.NoError(t, err)
	require.Len(t, gs, 3)
	dropped, as := leakcheck.DefaultGoroutineFilter(gs[0])
	assert.True(t, dropped, "on its way out")
	assert.Empty(t, as, "gone, not ignored")
	dropped, as = leakcheck.DefaultGoroutineFilter(gs[1])
	assert.True(t, dropped, "collecting")
	assert.Equal(t, "leakcheck's own goroutines", as)
	dropped, _ = leakcheck.DefaultGoroutineFilter(gs[2])
	assert.False(t, dropped, "a user's goroutine")
}
