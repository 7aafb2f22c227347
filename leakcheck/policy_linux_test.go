package leakcheck_test

import (
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// leakFile opens a file and returns it: the caller drops the reference to
// make it a leak that a finalizer would close at the next collection.
//
//go:noinline
func leakFile(t *testing.T, dir string) *os.File {
	f, err := os.Create(filepath.Join(dir, "unreachable.log"))
	require.NoError(t, err)
	return f
}

//go:noinline
func leakUnreachableFile(t *testing.T, dir string) string {
	return leakFile(t, dir).Name()
}

// churn allocates until stop is closed, so the garbage collector runs
// whenever it is allowed to.
func churn(stop chan struct{}) {
	var keep [][]byte
	for {
		select {
		case <-stop:
			return
		default:
		}
		keep = append(keep, make([]byte, 1<<20))
		if len(keep) > 64 {
			keep = keep[:0]
		}
		// Garbage at a pace, not a spin: on one CPU a goroutine that only
		// allocates can hold runtime.GC's sweep up for minutes (the
		// verdict's collection gives up then, and says so).
		time.Sleep(50 * time.Microsecond)
	}
}

// waitGCPaused waits until the garbage collector is off (GOGC -1), as a
// check turns it off when it starts settling.
func waitGCPaused() {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	for {
		metrics.Read(s)
		if s[0].Value.Uint64() == ^uint64(0) {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestFinalizerCannotHideALeak(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	var name string
	ft := runCheck(t, func() {
		var held atomic.Pointer[os.File]
		held.Store(leakFile(t, dir))
		name = held.Load().Name()
		go func() {
			// Once the check settles, drop the last reference and make
			// garbage: without the pause a collection would run the
			// file's finalizer and close it.
			waitGCPaused()
			held.Store(nil)
			churn(stop)
		}()
	}, leakcheck.WithResources(leakcheck.FDs), leakcheck.WithTimeout(500*time.Millisecond))
	close(stop)
	msg := ft.errorText()
	assert.Contains(t, msg, "fds (1):", "the garbage collector is paused while the check settles")
	assert.Contains(t, msg, "file "+name)
}

// The control: with the pause turned off, the same leak is closed by its
// finalizer during the wait and the check passes. This is what the pause
// prevents.
func TestFinalizerWouldHideALeakWithoutThePause(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	ft := runCheck(t, func() {
		leakUnreachableFile(t, dir)
		go churn(stop)
	}, leakcheck.WithResources(leakcheck.FDs), leakcheck.WithTimeout(10*time.Second), leakcheck.AllowGCDuringSettle())
	close(stop)
	assert.Empty(t, ft.errorText(), "a collection ran the file's finalizer while the check waited")
}

// deadlineT is a fake test with a deadline, like *testing.T under -timeout.
type deadlineT struct {
	*fakeT
	deadline time.Time
}

func (d deadlineT) Deadline() (time.Time, bool) { return d.deadline, true }

func TestSettleNeverPassesTheTestDeadline(t *testing.T) {
	now := time.Now()
	ft := deadlineT{newFakeT(t, "x"), now.Add(2 * time.Second)}
	got := leakcheck.TestDeadline(ft, time.Minute)
	assert.True(t, got.Before(now.Add(2*time.Second)), "a minute's timeout is cut to before the test's deadline: %v", got.Sub(now))
	assert.True(t, got.After(now.Add(time.Second)), "but leaves most of the time to the check: %v", got.Sub(now))

	got = leakcheck.TestDeadline(ft, 100*time.Millisecond)
	assert.True(t, got.Before(now.Add(150*time.Millisecond)), "a short timeout stays short")

	got = leakcheck.TestDeadline(newFakeT(t, "no deadline"), 3*time.Second)
	assert.WithinDuration(t, time.Now().Add(3*time.Second), got, 100*time.Millisecond)
}

func TestAttrSummary(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := runCheck(t, func() { startBlocked(release) }, short, leakcheck.WithResources(leakcheck.Goroutines))
	assert.Regexp(t, `^1 leaked after waiting \d+ms: 1 goroutine`, ft.attrs["leakcheck"])
	ft = runCheck(t, func() {})
	assert.True(t, strings.HasPrefix(ft.attrs["leakcheck"], "no leaks in this process"), ft.attrs["leakcheck"])
}
