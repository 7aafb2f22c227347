package gostack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dumperOf returns a Dumper holding text as if a Take had printed it.
func dumperOf(text []byte) *Dumper {
	return &Dumper{buf: text, n: len(text)}
}

// The header scan reads what the parser reads: the same goroutines, IDs and
// leaked marks, in the same order, and each block is the goroutine's Raw.
func TestDumperHeadersMatchParse(t *testing.T) {
	files, err := filepath.Glob("testdata/go1.*.txt")
	require.NoError(t, err)
	files = slices.DeleteFunc(files, func(f string) bool { return strings.Contains(f, "pprof-debug1") })
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			gs, err := ParseBytes(b)
			require.NoError(t, err)
			d := dumperOf(b)
			var hs []Header
			for h := range d.Headers() {
				hs = append(hs, h)
			}
			require.Len(t, hs, len(gs))
			leaked := 0
			for i, h := range hs {
				assert.Equal(t, gs[i].ID, h.ID)
				assert.Equal(t, gs[i].Leaked, h.Leaked, "goroutine %d", h.ID)
				assert.Equal(t, gs[i].Raw, string(b[h.start:h.end]), "goroutine %d", h.ID)
				if h.Leaked {
					leaked++
				}
			}
			if strings.Contains(file, "goroutineleak") {
				assert.Positive(t, leaked, "the leak profile marks goroutines leaked")
			}

			sel, err := d.Select(func(h Header) bool { return h.ID%2 == 1 })
			require.NoError(t, err)
			var want []Goroutine
			for _, g := range gs {
				if g.ID%2 == 1 {
					want = append(want, g)
				}
			}
			require.Len(t, sel, len(want))
			for i := range want {
				assert.Equal(t, want[i].ID, sel[i].ID)
				assert.Equal(t, want[i].Frames, sel[i].Frames)
				assert.Equal(t, want[i].Raw, sel[i].Raw)
			}
		})
	}
}

func TestDumperHeadersEdgeCases(t *testing.T) {
	for _, c := range []struct {
		name string
		text string
		want []Header
	}{
		{"empty", "", nil},
		{"text before the first header, as after a panic message",
			"panic: x\n\ngoroutine 4 [running]:\nmain.f()\n\t/a.go:1 +0x1\n",
			[]Header{{ID: 4}}},
		{"leaked then scan markers", "goroutine 9 [chan receive (leaked) (scan), 1 minutes]:\nmain.f()\n", []Header{{ID: 9, Leaked: true}}},
		{"durable is not leaked", "goroutine 9 [chan receive (durable), synctest bubble 1]:\n", []Header{{ID: 9}}},
		{"a label value saying (leaked) is not the marker",
			`goroutine 9 [select labels:{"k": "x (leaked)"}]:` + "\n\ngoroutine 10 [select] {k: \"(leaked)]\"}:\n",
			[]Header{{ID: 9}, {ID: 10}}},
		{"crash header with gp= fields", "goroutine 1 gp=0xc000002380 m=0 mp=0x5a6b20 [running]:\n", []Header{{ID: 1}}},
		{"unreadable header is skipped", "goroutine x [running]:\n\ngoroutine 2 [running]:\n", []Header{{ID: 2}}},
		{"ID overflowing 64 bits is skipped", "goroutine 99999999999999999999 [running]:\n\ngoroutine 2 [running]:\n", []Header{{ID: 2}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []Header
			for h := range dumperOf([]byte(c.text)).Headers() {
				h.start, h.end = 0, 0
				got = append(got, h)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestDumperLive(t *testing.T) {
	var d Dumper
	assert.Zero(t, d.Size())
	assert.Empty(t, d.IDs(nil), "no dump taken yet")

	base := d.IDs(nil)
	d.Take()
	base = d.IDs(base)
	assert.True(t, slices.IsSorted(base))
	assert.Contains(t, base, CurrentID())
	assert.Positive(t, d.Size())
	assert.LessOrEqual(t, d.Size(), d.Cap())

	ids, release := parked(t, 3)
	d.Take()
	now := d.IDs(nil)
	for _, id := range ids {
		assert.Contains(t, now, id)
		assert.NotContains(t, base, id)
	}
	fresh, err := d.NewSince(base)
	require.NoError(t, err)
	byNew := map[uint64]Goroutine{}
	for _, g := range fresh {
		_, inBase := slices.BinarySearch(base, g.ID)
		assert.False(t, inBase, "goroutine %d was in the baseline", g.ID)
		byNew[g.ID] = g
	}
	assert.True(t, slices.IsSortedFunc(fresh, func(a, b Goroutine) int { return cmpID(a.ID, b.ID) }))
	for _, id := range ids {
		g, ok := byNew[id]
		require.True(t, ok, "parked goroutine %d is new", id)
		assert.Equal(t, parkHereFunc, g.TopFunction())
		assert.Equal(t, "chan receive", g.State)
	}

	// What Select returned is a copy: the next dump overwrites the buffer.
	raw := strings.Clone(byNew[ids[0]].Raw)
	release()
	d.Take()
	assert.Equal(t, raw, byNew[ids[0]].Raw)
	after := d.IDs(nil)
	for _, id := range ids {
		assert.NotContains(t, after, id)
	}
}

// Once the buffer fits, a look (dump and ID scan) allocates nothing, so a
// settle loop with the collector paused holds one dump's worth of memory.
func TestDumperLookAllocatesNothing(t *testing.T) {
	_, _ = parked(t, 50)
	var d Dumper
	d.Take()
	ids := d.IDs(nil)
	allocs := testing.AllocsPerRun(20, func() {
		d.Take()
		ids = d.IDs(ids)
	})
	assert.Zero(t, allocs)
}

//go:noinline
func deepPark(n int, wg *sync.WaitGroup, stop <-chan struct{}) int {
	if n == 0 {
		wg.Done()
		<-stop
		return 0
	}
	return deepPark(n-1, wg, stop) + 1
}

// Goroutines that print more than the first guess of bytes per goroutine
// make Take grow the buffer and retry; the next Take sizes it from the last.
func TestDumperGrows(t *testing.T) {
	stop := make(chan struct{})
	var parkedWG, done sync.WaitGroup
	const n = 40
	parkedWG.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			deepPark(60, &parkedWG, stop)
		}()
	}
	parkedWG.Wait()
	defer done.Wait()
	defer close(stop)

	d := Dumper{buf: make([]byte, 64)}
	size := d.Take()
	assert.Equal(t, size, d.Size())
	assert.Less(t, d.Size(), d.Cap())
	assert.Greater(t, d.Size(), n*minPerG, "60-deep stacks print more than the first guess")
	deep := 0
	for h := range d.Headers() {
		if strings.Contains(string(d.buf[h.start:h.end]), ".deepPark(") {
			deep++
		}
	}
	assert.Equal(t, n, deep)

	capBefore := d.Cap()
	d.Take()
	assert.Equal(t, capBefore, d.Cap(), "the second look reuses the buffer")
}

//go:noinline
func stageOne(next <-chan struct{}) { <-next }

//go:noinline
func stageTwo(stop <-chan struct{}) { <-stop }

// NewSince parses a goroutine again only when its text changed.
func TestDumperNewSinceReparsesOnlyWhatChanged(t *testing.T) {
	var d Dumper
	d.Take()
	base := d.IDs(nil)

	ids, _ := parked(t, 2)
	next, stop := make(chan struct{}), make(chan struct{})
	moved := make(chan uint64, 1)
	go func() {
		moved <- CurrentID()
		stageOne(next)
		stageTwo(stop)
	}()
	mover := <-moved
	defer close(stop)
	top := func(gs []Goroutine, id uint64) Goroutine {
		t.Helper()
		g, ok := byID(gs, id)
		require.True(t, ok, "goroutine %d", id)
		return g
	}
	waitFor(t, func() bool {
		d.Take()
		gs, err := d.NewSince(base)
		require.NoError(t, err)
		return top(gs, mover).TopFunction() == pkgPrefix+"stageOne"
	})
	first, err := d.NewSince(base)
	require.NoError(t, err)

	d.Take()
	again, err := d.NewSince(base)
	require.NoError(t, err)
	for _, id := range ids {
		a, b := top(first, id), top(again, id)
		assert.Equal(t, a, b)
		assert.Same(t, unsafe.StringData(a.Raw), unsafe.StringData(b.Raw), "goroutine %d is unchanged: not parsed again", id)
	}

	close(next)
	waitFor(t, func() bool {
		d.Take()
		gs, err := d.NewSince(base)
		require.NoError(t, err)
		return top(gs, mover).TopFunction() == pkgPrefix+"stageTwo"
	})
	for _, id := range ids {
		d.Take()
		gs, err := d.NewSince(base)
		require.NoError(t, err)
		assert.Equal(t, top(first, id).Raw, top(gs, id).Raw)
	}
}
