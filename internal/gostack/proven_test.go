package gostack

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantCanProve is what CanProve must say on this toolchain: yes from Go 1.27,
// on Go 1.26 only in a binary built with GOEXPERIMENT=goroutineleakprofile
// (runtime.Version then ends in "X:goroutineleakprofile").
func wantCanProve() bool {
	var major, minor int
	if _, err := fmt.Sscanf(runtime.Version(), "go%d.%d", &major, &minor); err != nil {
		panic("unreadable runtime.Version " + runtime.Version())
	}
	if major > 1 || minor >= 27 {
		return true
	}
	return minor == 26 && strings.Contains(runtime.Version(), "goroutineleakprofile")
}

func TestCanProve(t *testing.T) {
	assert.Equal(t, wantCanProve(), CanProve(), runtime.Version())
	n, ok, err := DetectLeaks()
	require.NoError(t, err)
	assert.Equal(t, wantCanProve(), ok, runtime.Version())
	if !ok {
		assert.Zero(t, n)
	}
}

// A channel only a package variable holds: reachable, so never proven.
var provenGlobal = make(chan int)

// The goroutines of TestProven park in these functions, one per case, so the
// test finds each by its frames. Each gets its channel or lock as an
// argument: nothing else references it once the starting function returns.

//go:noinline
func proveRecv(ch chan int) { <-ch }

//go:noinline
func proveSend(ch chan int) { ch <- 1 }

//go:noinline
func proveSelect(a, b chan int) {
	select {
	case <-a:
	case <-b:
	}
}

type guarded struct {
	mu    sync.Mutex
	items []string
}

//go:noinline
func proveMutex(mu *sync.Mutex) { mu.Lock() }

//go:noinline
func proveWaitGroup(wg *sync.WaitGroup) { wg.Wait() }

//go:noinline
func proveCond(c *sync.Cond) {
	c.L.Lock()
	c.Wait()
}

//go:noinline
func proveGlobal() { <-provenGlobal }

//go:noinline
func proveAfter(ch chan int) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

//go:noinline
func proveDeadline(ctx context.Context) { <-ctx.Done() }

//go:noinline
func proveSleep() { time.Sleep(5 * time.Second) }

//go:noinline
func proveFinalized(ch chan int) { <-ch }

// finalized holds a channel and has a finalizer: the finalizer could use the
// channel, so the cycle that runs it must not call its waiter leaked.
type finalized struct{ ch chan int }

const pkgPrefix = "github.com/leakcheck/go/internal/gostack."

type provenCase struct {
	fn     string // the function it parks in, without the package
	state  string
	start  func()
	proven bool
	reason string
}

var provenCases = []provenCase{
	{"proveRecv", "chan receive", func() { go proveRecv(make(chan int)) }, true,
		"a receive on a channel nothing else references"},
	{"proveSend", "chan send", func() { go proveSend(make(chan int)) }, true,
		"a send on a channel nothing else references"},
	{"proveSelect", "select", func() { go proveSelect(make(chan int), make(chan int)) }, true,
		"a select whose channels nothing else references"},
	{"proveMutex", "sync.Mutex.Lock", func() {
		// In a struct with a pointer, as mutexes usually are: a lone
		// sync.Mutex is 8 pointer-free bytes, which the tiny allocator packs
		// into a 16-byte block with other small objects, and a block is
		// marked when any of them is live (see DetectLeaks).
		b := new(guarded)
		b.mu.Lock()
		go proveMutex(&b.mu)
	}, true, "a Lock of a mutex whose holder dropped it"},
	{"proveWaitGroup", "sync.WaitGroup.Wait", func() {
		wg := new(sync.WaitGroup)
		wg.Add(1)
		go proveWaitGroup(wg)
	}, true, "a Wait on a WaitGroup no one can call Done on"},
	{"proveCond", "sync.Cond.Wait", func() { go proveCond(sync.NewCond(new(sync.Mutex))) }, true,
		"a Wait on a Cond no one can Signal"},
	{"proveGlobal", "chan receive", func() { go proveGlobal() }, false,
		"the channel is in a package variable: any code may still send"},
	{"proveAfter", "select", func() { go proveAfter(make(chan int)) }, false,
		"time.After's timer is in the timer heap, which keeps its channel reachable"},
	{"proveDeadline", "chan receive", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cancel // the deadline cancels it
		go proveDeadline(ctx)
	}, false, "a context deadline is a pending timer whose function holds the context"},
	{"proveSleep", "sleep", func() { go proveSleep() }, false,
		"a sleep is not a wait on a channel or sync object"},
	{"proveFinalized", "chan receive", func() {
		f := &finalized{ch: make(chan int)}
		runtime.SetFinalizer(f, func(*finalized) {})
		go proveFinalized(f.ch)
	}, false, "the channel is reachable from an object with a finalizer, which marking treats as a root"},
}

// startParked runs each case's start and returns the IDs of the goroutines
// they started, once every one of them is parked in its function. The
// starting happens in functions that return, so the test's own stack holds
// none of the channels.
func startParked(t *testing.T, cases []provenCase) map[string]uint64 {
	t.Helper()
	before := map[uint64]bool{}
	all, err := All()
	require.NoError(t, err)
	for _, g := range all {
		before[g.ID] = true
	}
	for _, c := range cases {
		c.start()
	}
	ids := map[string]uint64{}
	waitFor(t, func() bool {
		all, err := All()
		require.NoError(t, err)
		for _, c := range cases {
			for _, g := range all {
				if !before[g.ID] && g.HasFunction(pkgPrefix+c.fn) && g.State == c.state {
					ids[c.fn] = g.ID
				}
			}
		}
		return len(ids) == len(cases)
	})
	return ids
}

func TestProven(t *testing.T) {
	t.Cleanup(func() { provenGlobal <- 1 })
	ids := startParked(t, provenCases)

	gs, ok, err := Proven(nil)
	require.NoError(t, err)
	require.Equal(t, wantCanProve(), ok, runtime.Version())
	if !ok {
		assert.Empty(t, gs, "%s cannot prove leaks", runtime.Version())
		return
	}
	proven := map[uint64]Goroutine{}
	for _, g := range gs {
		assert.True(t, g.Leaked, "goroutine %d returned by Proven", g.ID)
		proven[g.ID] = g
	}
	for _, c := range provenCases {
		g, found := proven[ids[c.fn]]
		assert.Equal(t, c.proven, found, "%s: %s", c.fn, c.reason)
		if found {
			assert.Equal(t, c.state, g.State, c.fn)
			assert.True(t, g.HasFunction(pkgPrefix+c.fn), c.fn)
		}
	}

	// The mark sticks: a later dump still says so, until the next
	// leak-detecting cycle.
	all, err := All()
	require.NoError(t, err)
	for _, c := range provenCases {
		g, found := byID(all, ids[c.fn])
		require.True(t, found, c.fn)
		assert.Equal(t, c.proven, g.Leaked, "%s in a later dump", c.fn)
	}
}

func TestProvenWhileGCPaused(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	ids := startParked(t, provenCases[:1])
	gs, ok, err := Proven(new(Dumper))
	require.NoError(t, err)
	require.Equal(t, wantCanProve(), ok)
	if !ok {
		return
	}
	var found bool
	for _, g := range gs {
		found = found || g.ID == ids["proveRecv"]
	}
	assert.True(t, found, "detection runs a forced GC cycle, which SetGCPercent(-1) does not stop")
}

// unreachablePipe returns the read end of a pipe whose write end nothing
// references: only its finalizer can close it.
func unreachablePipe(t *testing.T) *os.File {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	_ = w
	return r
}

// DetectLeaks is a real collection: an unreachable *os.File is finalized
// (closed) by the time it returns, even with the collector paused. Leakcheck
// must snapshot descriptors before it.
func TestDetectLeaksRunsFinalizers(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	r := unreachablePipe(t)
	defer r.Close()

	_, ok, err := DetectLeaks()
	require.NoError(t, err)
	require.Equal(t, wantCanProve(), ok)
	if !ok {
		return
	}
	// EOF on the read end means the write end was closed: by its finalizer.
	eof := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 1))
		eof <- err
	}()
	select {
	case err := <-eof:
		assert.ErrorIs(t, err, io.EOF)
	case <-time.After(5 * time.Second):
		t.Fatal("the unreachable write end of a pipe is still open 5s after DetectLeaks")
	}
}

func TestTotalWriter(t *testing.T) {
	for _, c := range []struct {
		name   string
		chunks []string
		want   int
		err    bool
	}{
		{"one write", []string{"goroutineleak profile: total 3\n1 @ 0x1\n"}, 3, false},
		{"split header", []string{"goroutineleak pro", "file: total 12", "\n"}, 12, false},
		{"none", []string{"goroutineleak profile: total 0\n"}, 0, false},
		{"another profile", []string{"goroutine profile: total 3\n"}, 0, true},
		{"empty", nil, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w totalWriter
			for _, s := range c.chunks {
				n, err := w.Write([]byte(s))
				require.NoError(t, err)
				require.Equal(t, len(s), n)
			}
			n, err := w.total()
			if c.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, n)
		})
	}
}
