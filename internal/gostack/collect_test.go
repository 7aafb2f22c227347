package gostack

import (
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parked starts n goroutines blocked in parkHere and returns their IDs and a
// function that releases them and waits until they are gone.
func parked(t testing.TB, n int) (ids []uint64, release func()) {
	t.Helper()
	stop := make(chan struct{})
	idc := make(chan uint64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go parkHere(&wg, idc, stop)
	}
	for range n {
		ids = append(ids, <-idc)
	}
	slices.Sort(ids)
	waitParked(t, ids)
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			waitGone(t, ids)
		})
	}
	t.Cleanup(release)
	return ids, release
}

//go:noinline
func parkHere(wg *sync.WaitGroup, idc chan<- uint64, stop <-chan struct{}) {
	defer wg.Done()
	idc <- CurrentID()
	<-stop
}

// waitParked polls until every goroutine in ids is parked in parkHere, so a
// census sees one stack for all of them.
func waitParked(t testing.TB, ids []uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := All()
		require.NoError(t, err)
		n := 0
		for _, g := range all {
			if slices.Contains(ids, g.ID) && g.TopFunction() == parkHereFunc && g.State == "chan receive" {
				n++
			}
		}
		if n == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d goroutines parked", n, len(ids))
		}
		time.Sleep(time.Millisecond)
	}
}

// waitGone polls until none of ids is alive: wg.Done runs before a
// goroutine has quite finished.
func waitGone(t testing.TB, ids []uint64) {
	t.Helper()
	waitFor(t, func() bool {
		for _, id := range IDs() {
			if _, found := slices.BinarySearch(ids, id); found {
				return false
			}
		}
		return true
	})
}

const parkHereFunc = "github.com/leakcheck/go/internal/gostack.parkHere"

func TestCurrentID(t *testing.T) {
	me := CurrentID()
	all, err := All()
	require.NoError(t, err)
	g, ok := byID(all, me)
	require.True(t, ok)
	assert.Equal(t, "running", g.State)
	assert.True(t, g.HasFunction("github.com/leakcheck/go/internal/gostack.TestCurrentID"))

	other := make(chan uint64)
	go func() { other <- CurrentID() }()
	assert.NotEqual(t, me, <-other)
}

func TestIDs(t *testing.T) {
	ids, release := parked(t, 3)
	all, err := All()
	require.NoError(t, err)
	got := IDs()
	assert.True(t, slices.IsSorted(got))
	for _, id := range append(ids, CurrentID()) {
		assert.Contains(t, got, id)
	}
	// Other tests' goroutines may start or end meanwhile: IDs() must hold
	// every goroutine present in dumps taken before and after it, and
	// nothing that is in neither.
	allAfter, err := All()
	require.NoError(t, err)
	before, after := map[uint64]bool{}, map[uint64]bool{}
	for _, g := range all {
		before[g.ID] = true
	}
	for _, g := range allAfter {
		after[g.ID] = true
	}
	for id := range before {
		if after[id] {
			assert.Contains(t, got, id, "present before and after IDs()")
		}
	}
	for _, id := range got {
		assert.True(t, before[id] || after[id], "goroutine %d is in neither dump", id)
	}

	release()
	afterRelease := IDs()
	for _, id := range ids {
		assert.NotContains(t, afterRelease, id)
	}
}

func TestAllFindsRealGoroutines(t *testing.T) {
	ids, release := parked(t, 3)

	locked := make(chan uint64)
	unlock := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		locked <- CurrentID()
		<-unlock
	}()
	lockedID := <-locked
	defer close(unlock)

	all, err := All()
	require.NoError(t, err)
	for _, id := range ids {
		g, ok := byID(all, id)
		require.True(t, ok, "goroutine %d", id)
		assert.Equal(t, parkHereFunc, g.TopFunction())
		assert.Equal(t, "github.com/leakcheck/go/internal/gostack.parked", g.CreatedBy())
		assert.Equal(t, CurrentID(), g.CreatorID)
		assert.Equal(t, "chan receive", g.State)
		assert.False(t, g.LockedToThread)
		assert.Contains(t, g.Raw, "collect_test.go:")
	}
	waitFor(t, func() bool {
		all, err := All()
		require.NoError(t, err)
		g, ok := byID(all, lockedID)
		return ok && g.LockedToThread && g.State == "chan receive"
	})

	release()
	all, err = All()
	require.NoError(t, err)
	for _, id := range ids {
		_, ok := byID(all, id)
		assert.False(t, ok, "goroutine %d is gone after release", id)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// With GODEBUG=tracebacklabels=1 (Go 1.26+), which the runtime re-reads when
// the variable changes, the dump carries pprof labels.
func TestAllLabels(t *testing.T) {
	if !hasTracebackLabels() {
		t.Logf("%s prints no labels in tracebacks; checking that none are reported", runtime.Version())
	}
	t.Setenv("GODEBUG", "tracebacklabels=1")
	stop := make(chan struct{})
	idc := make(chan uint64)
	pprof.Do(context.Background(), pprof.Labels("leakcheck.test", t.Name()), func(context.Context) {
		go func() {
			idc <- CurrentID()
			<-stop
		}()
	})
	id := <-idc
	defer waitGone(t, []uint64{id})
	defer close(stop)
	all, err := All()
	require.NoError(t, err)
	g, ok := byID(all, id)
	require.True(t, ok)
	if hasTracebackLabels() {
		assert.Equal(t, map[string]string{"leakcheck.test": t.Name()}, g.Labels)
	} else {
		assert.Nil(t, g.Labels)
	}
}

func hasTracebackLabels() bool {
	var major, minor int
	_, err := fmt.Sscanf(runtime.Version(), "go%d.%d", &major, &minor)
	return err == nil && (major > 1 || minor >= 26)
}
