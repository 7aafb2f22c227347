package heapdiff_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/heapdiff"
)

// The scenarios of the issue: leaky code and clean code side by side, with
// real allocations, each run as leakcheck's Cycle runs it (n creates, then
// every destroy, most recent first).

// cycle turns create/destroy into a round of n cycles.
func cycle(n int, create func() (destroy func())) func() error {
	destroys := make([]func(), 0, n)
	return func() error {
		for range n {
			destroys = append(destroys, create())
		}
		for i := len(destroys) - 1; i >= 0; i-- {
			destroys[i]()
		}
		clear(destroys)
		destroys = destroys[:0]
		return nil
	}
}

// registry hands out connections, each with a 4 KiB buffer, and keeps them
// by ID while they are open. The leaky one never forgets a closed one.
type registry struct {
	mu    sync.Mutex
	conns map[int]*conn
	next  int
	leaky bool

	bufFile string // where open allocates the buffer, from runtime.Caller
	bufLine int
}

type conn struct {
	id  int
	buf []byte
}

func (r *registry) open() *conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	c := &conn{id: r.next}
	c.buf = make([]byte, 4<<10)
	_, r.bufFile, r.bufLine, _ = runtime.Caller(0)
	r.bufLine-- // the line above
	r.conns[c.id] = c
	return c
}

func (r *registry) close(c *conn) {
	if r.leaky {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c.id)
}

func TestRegistry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leaky bool
	}{
		{"forgets closed connections: clean", false},
		{"keeps closed connections: 4 KiB per cycle", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &registry{conns: make(map[int]*conn), leaky: tc.leaky}
			const n = 200
			res, err := heapdiff.Run(n, cycle(n, func() func() {
				c := r.open()
				return func() { r.close(c) }
			}), heapdiff.Defaults())
			require.NoError(t, err)
			t.Log(res)
			if !tc.leaky {
				assert.False(t, res.Leaked(), "%v", res)
				assert.Nil(t, res.Profiled, "a clean run is never profiled")
				return
			}
			require.True(t, res.Leaked(), "%v", res)
			bytes, objects := res.PerCycle()
			assert.InDelta(t, 4096+48, bytes, 256, "the buffer, the conn and the map's share")
			assert.GreaterOrEqual(t, objects, 2.0)
			require.NotEmpty(t, res.Profiled.Sites)
			top := res.Profiled.Sites[0]
			assert.Equal(t, r.bufFile, top.User.File)
			assert.Equal(t, r.bufLine, top.User.Line, "the buffer's make")
			assert.True(t, strings.HasSuffix(top.User.Function, ".(*registry).open"), top.User.Function)
			assert.Equal(t, int64(n*4096), top.Bytes)
			assert.Equal(t, int64(n), top.Objects)
			assert.Contains(t, res.String(), fmt.Sprintf("4096 B in 1 object per cycle at %s (%s:%d)", top.User.Function, r.bufFile, r.bufLine))
		})
	}
}

// A sync.Pool of buffers: every create takes one, every destroy gives it
// back. What the pool holds is dropped within two collections.
func TestPool(t *testing.T) {
	pool := sync.Pool{New: func() any { return new([8 << 10]byte) }}
	const n = 200
	res, err := heapdiff.Run(n, cycle(n, func() func() {
		b := pool.Get().(*[8 << 10]byte)
		b[0] = 1
		return func() { pool.Put(b) }
	}), heapdiff.Defaults())
	require.NoError(t, err)
	assert.False(t, res.Leaked(), "%v", res)
}

// A cache bounded at eight entries: every create adds a new key with 1 KiB,
// evicting the oldest beyond eight. It fills in the warm-up round and stays
// full.
func TestBoundedCache(t *testing.T) {
	type entry struct {
		key int
		val []byte
	}
	var (
		cache []entry
		next  int
	)
	const n = 200
	res, err := heapdiff.Run(n, cycle(n, func() func() {
		next++
		cache = append(cache, entry{next, make([]byte, 1<<10)})
		if len(cache) > 8 {
			cache = append(cache[:0], cache[1:]...)
		}
		return func() {}
	}), heapdiff.Defaults())
	require.NoError(t, err)
	assert.False(t, res.Leaked(), "%v", res)
	assert.Len(t, cache, 8)
}

// A worker whose stop is forgotten: every create starts a goroutine that
// allocates 1 MiB and waits for a stop that never comes.
func TestGoroutineHolding1MiB(t *testing.T) {
	quit := make(chan struct{})
	var (
		held               sync.WaitGroup
		holdFile, holdLine = "", 0 // where the goroutine allocates, from runtime.Caller
	)
	t.Cleanup(func() {
		close(quit)
		held.Wait()
	})
	start := func() {
		ready := make(chan struct{})
		held.Add(1)
		go func() {
			defer held.Done()
			buf := make([]byte, 1<<20)
			_, holdFile, holdLine, _ = runtime.Caller(0)
			holdLine-- // the line above
			close(ready)
			<-quit
			runtime.KeepAlive(buf)
		}()
		<-ready
	}
	const n = 4
	res, err := heapdiff.Run(n, cycle(n, func() func() {
		start()
		return func() {} // forgets to stop it
	}), heapdiff.Defaults())
	require.NoError(t, err)
	t.Log(res)
	require.True(t, res.Leaked(), "%v", res)
	bytes, _ := res.PerCycle()
	assert.GreaterOrEqual(t, bytes, float64(1<<20))
	require.NotEmpty(t, res.Profiled.Sites)
	top := res.Profiled.Sites[0]
	assert.Equal(t, holdFile, top.User.File)
	assert.Equal(t, holdLine, top.User.Line, "the 1 MiB make inside the goroutine")
	assert.Equal(t, int64(n<<20), top.Bytes)
	assert.Equal(t, int64(n), top.Objects)
}

var churnSink []byte

// churn allocates about 10 KiB of temporaries in ~40 objects (a map, its
// values, a formatted string) and keeps none.
func churn() {
	m := make(map[int][]byte)
	for i := range 32 {
		m[i] = make([]byte, 256)
	}
	for _, v := range m {
		churnSink = v
	}
	churnSink = []byte(fmt.Sprintf("%d entries, first %x", len(m), m[0][:4]))
	churnSink = nil
}

// A clean cycle with heavy temporary allocation passes every time: the
// issue asks for 50 runs out of 50 (10 with -short).
func TestNoiseClean(t *testing.T) {
	runs := 50
	if testing.Short() {
		runs = 10
	}
	const n = 200
	var worst int64
	for i := range runs {
		res, err := heapdiff.Run(n, cycle(n, func() func() {
			churn()
			return churn
		}), heapdiff.Defaults())
		require.NoError(t, err)
		require.False(t, res.Leaked(), "run %d of %d: %v", i+1, runs, res)
		worst = max(worst, slicesMax(res.Retained))
	}
	t.Logf("%d runs of %d cycles: the worst round retained %d B", runs, n, worst)
}

func slicesMax(v []int64) int64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}
