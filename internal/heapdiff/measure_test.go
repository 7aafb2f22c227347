package heapdiff_test

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/heapdiff"
)

const mib = 1 << 20

// What one forced collection leaves behind that the next frees, and how
// Collect gets rid of it. Each case makes 4 MiB reachable only in the way
// it names, drops it, and looks at the live heap after each runtime.GC():
// still there after held collections (on every Go version), gone after
// gone; then it checks that Collect alone gets rid of it.
func TestCollect(t *testing.T) {
	type boxed struct{ buf []byte }
	var pool sync.Pool
	for _, tc := range []struct {
		name       string
		held, gone int // runtime.GC() calls
		drop       func()
		notRace    bool // what it measures is not deterministic under -race
	}{
		{"plain garbage: the first collection frees it", 0, 1, func() {
			keep = make([]byte, 4*mib)
			keep = nil
		}, false},
		{"sync.Pool: the first collection moves it to the victim cache, the second drops it", 1, 2, func() {
			pool.Put(&boxed{make([]byte, 4*mib)})
		}, true},
		{"finalizer: the first collection queues it, the second frees it", 1, 2, func() {
			b := &boxed{make([]byte, 4*mib)}
			runtime.SetFinalizer(b, func(*boxed) {})
		}, false},
		{"two finalizers in a chain: one collection per link", 2, 3, func() {
			inner := &boxed{make([]byte, 4*mib)}
			runtime.SetFinalizer(inner, func(*boxed) {})
			outer := &struct{ in *boxed }{inner}
			runtime.SetFinalizer(outer, func(*struct{ in *boxed }) {})
		}, false},
		// Go 1.25 frees the argument with the object; 1.26 and 1.27 keep it
		// until the cleanup has run.
		{"cleanup argument: held at most until the cleanup runs", 0, 2, func() {
			b := new(boxed)
			runtime.AddCleanup(b, func([]byte) {}, make([]byte, 4*mib))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.notRace && raceEnabled {
				t.Skip("under -race, sync.Pool.Put drops a quarter of its items at random")
			}
			base := heapdiff.Measure()
			tc.drop()
			var held []int64
			for range 4 {
				runtime.GC()
				waitFinalizers()
				b, _ := heapdiff.Read().Sub(base)
				held = append(held, b)
			}
			for i, b := range held {
				switch gcs := i + 1; {
				case gcs <= tc.held:
					assert.Greater(t, b, int64(4*mib-64<<10), "after %d collections: %v", gcs, held)
				case gcs >= tc.gone:
					assert.Less(t, b, int64(64<<10), "after %d collections: %v", gcs, held)
				}
			}

			tc.drop()
			n := heapdiff.Collect()
			b, _ := heapdiff.Read().Sub(base)
			assert.Less(t, b, int64(64<<10), "after Collect (%d collections)", n)
			assert.GreaterOrEqual(t, n, max(tc.held+2, heapdiff.MinCollections), "one more collection to see the heap stop shrinking")
		})
	}
}

var keep []byte

// waitFinalizers gives the finalizer and cleanup goroutines time to run what
// the last collection queued (a test's own wait, so that this test does not
// depend on Collect's).
func waitFinalizers() {
	runtime.Gosched()
	time.Sleep(5 * time.Millisecond)
}

// After Collect the live heap stays put: a second Measure with nothing in
// between reads the same bytes, give or take a few runtime objects. About
// once in 200 pairs the runtime starts an OS thread during the collections
// and keeps its 5.5 KiB of heap for good (see DefaultIgnores).
func TestMeasureStable(t *testing.T) {
	for range 5 {
		a := heapdiff.Measure()
		b := heapdiff.Measure()
		d, _ := b.Sub(a)
		assert.InDelta(t, 0, d, 8<<10, "%v then %v", a, b)
	}
}

// Read right after runtime.GC() counts what survived, objects and bytes.
func TestReadCountsSurvivors(t *testing.T) {
	base := heapdiff.Measure()
	held := make([]*[4096]byte, 1000)
	for i := range held {
		held[i] = new([4096]byte)
	}
	got := heapdiff.Measure()
	b, o := got.Sub(base)
	assert.InDelta(t, 1000*4096, b, 2048, "1000 objects of 4 KiB (the slice holding them is on the stack)")
	assert.InDelta(t, 1000, o, 16)
	runtime.KeepAlive(held)
}

func TestSampleSub(t *testing.T) {
	b, o := heapdiff.Sample{Bytes: 100, Objects: 3}.Sub(heapdiff.Sample{Bytes: 164, Objects: 4})
	require.Equal(t, int64(-64), b, "less than the base is negative")
	require.Equal(t, int64(-1), o)
}

// Go 1.26 added the finalizer and cleanup counts Collect waits on; 1.25
// falls back to one more collection.
func TestCountsFinalizers(t *testing.T) {
	v, ok := strings.CutPrefix(runtime.Version(), "go1.")
	v, _, _ = strings.Cut(v, ".")
	minor, err := strconv.Atoi(v)
	if !ok || err != nil {
		t.Skipf("not a release: %s", runtime.Version())
	}
	assert.Equal(t, minor >= 26, heapdiff.CountsFinalizers(), runtime.Version())
}
