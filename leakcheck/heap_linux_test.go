package leakcheck_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// registry keeps a 4 KiB buffer per connection it ever saw, even after the
// connection is closed: the heap leak of the issue.
type registry struct {
	mu   sync.Mutex
	bufs map[int][]byte
	next int
}

var bufLine string

func (r *registry) open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	_, file, line, _ := runtime.Caller(0)
	bufLine = fmt.Sprintf("%s:%d", filepath.Base(file), line+2)
	r.bufs[r.next] = make([]byte, 4096)
	return r.next
}

func (r *registry) close(id int, forget bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if forget {
		delete(r.bufs, id)
	}
}

func TestCycleHeapLeak(t *testing.T) {
	r := &registry{bufs: map[int][]byte{}}
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 200, func() func() {
		id := r.open()
		return func() { r.close(id, false) } // the buffer stays
	}, leakcheck.WithResources(leakcheck.Heap|leakcheck.Goroutines))
	require.NotNil(t, rep)
	require.NotNil(t, rep.Heap, "%s", rep)
	assert.True(t, rep.Leaked())
	bytes, objects := rep.Heap.PerCycle()
	assert.InDelta(t, 4096, bytes, 512, "the buffer, and the map's share: %s", rep)
	assert.InDelta(t, 1, objects, 0.1, "%s", rep)
	msg := ft.errorText()
	assert.Contains(t, msg, "; heap retained per cycle: ", msg)
	assert.Contains(t, msg, "4096 B in 1 object per cycle at github.com/leakcheck/go/leakcheck_test.(*registry).open (", msg)
	assert.Contains(t, msg, string(filepath.Separator)+bufLine+")", "the allocation line:\n%s", msg)
}

func TestCycleHeapClean(t *testing.T) {
	r := &registry{bufs: map[int][]byte{}}
	var pool = sync.Pool{New: func() any { return make([]byte, 4096) }}
	bounded := map[int][]byte{}
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 200, func() func() {
		id := r.open()
		b := pool.Get().([]byte)
		bounded[id%8] = make([]byte, 256) // a cache bounded at eight entries
		return func() { r.close(id, true); pool.Put(b) }
	})
	require.NotNil(t, rep)
	require.NotNil(t, rep.Heap)
	assert.False(t, rep.Leaked(), "%s", rep)
	assert.Empty(t, ft.errorText())
}

// A goroutine leak that holds a 1 MiB buffer: both are reported.
func TestCycleGoroutineHoldingHeap(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 4, func() func() {
		go func() {
			buf := make([]byte, 1<<20)
			<-stop
			runtime.KeepAlive(buf)
		}()
		return func() {}
	}, short)
	require.NotNil(t, rep)
	msg := ft.errorText()
	assert.Contains(t, msg, "goroutines (", msg)
	require.NotNil(t, rep.Heap, "%s", rep)
	assert.True(t, rep.Heap.Leaked(), "%s", rep)
	assert.True(t, strings.Contains(msg, "TestCycleGoroutineHoldingHeap.func1.1"), "the heap site is the goroutine's make:\n%s", msg)
}

func TestSoakHeapGrowth(t *testing.T) {
	var kept [][]byte
	rep, err := leakcheck.RunSoak(func(int) error {
		kept = append(kept, make([]byte, 4096))
		return nil
	}, leakcheck.WithIterations(400), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	g, ok := rep.Growth("heap")
	require.True(t, ok, "the heap is a soak category: %s", rep)
	assert.InDelta(t, 4096, g.PerIteration, 1024, "%s", rep)
	assert.True(t, rep.Leaked(), "%s", rep)
	assert.Contains(t, rep.String(), "heap +", rep.String())
	runtime.KeepAlive(kept)
}

func TestSoakHeapCleanWithTemporaries(t *testing.T) {
	var sink []byte
	rep, err := leakcheck.RunSoak(func(i int) error {
		sink = make([]byte, 64<<10) // garbage every iteration
		_ = sink
		return nil
	}, leakcheck.WithIterations(400), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	_, ok := rep.Growth("heap")
	assert.True(t, ok, "shown: %s", rep)
	assert.False(t, rep.Leaked(), "%s", rep)
}

// Another process's heap cannot be measured: the soak says so rather than
// leaving the category out silently.
func TestSoakHeapOfAnotherProcessIsSaid(t *testing.T) {
	cmd := exec.Command("sleep", "20")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	rep, err := leakcheck.RunSoak(func(int) error { return nil },
		leakcheck.WithPID(cmd.Process.Pid), leakcheck.WithIterations(10), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	_, ok := rep.Growth("heap")
	assert.False(t, ok)
	assert.Contains(t, strings.Join(rep.End.Unchecked, "\n"), "heap not measured: only the current process's heap can be", rep)
}
