package leakcheck

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/gostack"
)

// Within its garbage budget a check polls at the back-off; past it the
// polls are spread over the time left; with the allowance spent, the one
// poll left waits for the last moment it still fits.
func TestBudgetSpreadsPollsPastTheGarbageBudget(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	b := &budget{poll: 10 * time.Millisecond, lastPoll: 10 * time.Millisecond, detail: 10 * time.Millisecond, maxGarbage: 100, perPoll: 10}

	b.garbage = 50
	assert.Equal(t, time.Millisecond, b.next(time.Millisecond, deadline, time.Time{}), "within the budget: the back-off")

	b.garbage = 100 // spent: 10 more polls' worth left
	wait := b.next(time.Millisecond, deadline, time.Time{})
	assert.Greater(t, wait, 700*time.Millisecond, "the time left shared by 11")
	assert.Less(t, wait, 950*time.Millisecond)

	b.garbage = 200 // the allowance is spent
	wait = b.next(time.Millisecond, deadline, time.Time{})
	assert.True(t, b.fits(time.Now().Add(wait-50*time.Millisecond), deadline, time.Time{}), "the last poll still fits")
	assert.False(t, b.fits(time.Now().Add(wait+50*time.Millisecond), deadline, time.Time{}), "and is the last one")
}

// The timeout bounds the polls; a test's limit also reserves the verdict's
// looks, each estimated from the dearest so far, or the baseline's.
func TestBudgetReservesTheVerdictBeforeTheTestsLimit(t *testing.T) {
	now := time.Now()
	b := &budget{base: time.Second, poll: 10 * time.Millisecond, lastPoll: 10 * time.Millisecond, st: &settleState{}}
	assert.Equal(t, time.Second, b.describe(), "no detailed look yet: the baseline's cost")
	far := now.Add(time.Hour)
	assert.True(t, b.fits(now, now.Add(100*time.Millisecond), time.Time{}), "outside a test only the poll must end within the timeout")
	assert.False(t, b.fits(now, now.Add(5*time.Millisecond), time.Time{}), "a poll that would end past the timeout")
	assert.True(t, b.fits(now, far, now.Add(1100*time.Millisecond)))
	assert.False(t, b.fits(now.Add(200*time.Millisecond), far, now.Add(1100*time.Millisecond)), "the detailed look would end past the test's limit")
	// When no detailed look fits at all, polls go on until the limit (the
	// report will come from the last one).
	assert.True(t, b.fits(now, far, now.Add(900*time.Millisecond)))
	assert.False(t, b.fits(now.Add(895*time.Millisecond), far, now.Add(900*time.Millisecond)))

	b.collects = true // and a collection, and a second detailed look
	limit := now.Add(2100*time.Millisecond + b.collect())
	assert.True(t, b.fits(now, far, limit))
	assert.False(t, b.fits(now.Add(200*time.Millisecond), far, limit))
}

// A verdict that has no time left before the test's limit for a detailed
// look comes from the last poll, and says so: a report, not a timed-out
// test binary.
func TestVerdictFromTheLastLookWhenNoTimeIsLeft(t *testing.T) {
	base, err := Take(WithResources(Goroutines | FDs))
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { wg.Done(); <-stop }()
	wg.Wait()

	cfg := newConfig(inFind, []Option{WithResources(Goroutines | FDs)})
	require.NoError(t, cfg.err())
	now := time.Now()
	// The test's limit is reached by the time the first look ends.
	c := &check{cfg: cfg, base: base, deadline: now.Add(200 * time.Millisecond), hardDeadline: now.Add(200 * time.Millisecond), limit: now}
	rep, err := c.run()
	require.NoError(t, err)
	require.True(t, rep.Leaked(), "the goroutine is still there")
	assert.Contains(t, rep.String(), "TestVerdictFromTheLastLookWhenNoTimeIsLeft")
	assert.Contains(t, strings.Join(rep.notes, "\n"), "reported from the last look")
}

// Once goroutines have grown, a check reads their stacks again only when
// their counts change: a leak that stays put costs one dump for the polls,
// whatever their number, and one per detailed look.
func TestSettleDumpsOnlyWhenCountsChange(t *testing.T) {
	stop := make(chan struct{})
	var exited sync.WaitGroup
	defer func() { close(stop); exited.Wait() }() // none left for the next test to see exit
	park := func(n int) {
		var wg sync.WaitGroup
		wg.Add(n)
		exited.Add(n)
		for range n {
			go func() { defer exited.Done(); wg.Done(); <-stop }()
		}
		wg.Wait()
	}
	park(smallGoroutineCount + 200) // above the census threshold
	base, err := take(newConfig(inFind, []Option{WithResources(Goroutines)}), baselineLook)
	require.NoError(t, err)
	park(1) // the leak

	cfg := newConfig(inFind, []Option{WithResources(Goroutines), WithTimeout(300 * time.Millisecond), WithTimerBound(300 * time.Millisecond)})
	require.NoError(t, cfg.err())
	c := &check{cfg: cfg, base: base, deadline: time.Now().Add(cfg.timeout), hardDeadline: time.Now().Add(cfg.timerBound())}
	rep, err := c.run()
	require.NoError(t, err)
	require.True(t, rep.Leaked())
	assert.Equal(t, 1, rep.Count(Goroutines), "the one goroutine parked after the baseline")
	// One dump when the census first grew, one after the collector's leak
	// proof (where the runtime has one: it marks stacks), one to read the
	// states afresh before deciding the wait is over, one per detailed
	// look (the verdict, and after the collection): not one per poll.
	most := 4
	if gostack.CanProve() {
		most++
	}
	assert.LessOrEqual(t, c.settle.dumps, most, "dumps taken over a 300 ms wait")
	assert.GreaterOrEqual(t, c.settle.dumps, 2)
}

// The one change a census cannot see: a goroutine exits while another with
// the very same stack starts. WithExactGoroutines catches it by ID.
func TestExactGoroutinesSeesASwap(t *testing.T) {
	stop := make(chan struct{})
	quit := make(chan struct{})
	var started, exited sync.WaitGroup
	defer func() { close(stop); exited.Wait() }() // none left for the next test to see exit
	spawn := func(n int) {
		started.Add(n)
		exited.Add(n)
		for range n {
			go func() { defer exited.Done(); twin(&started, quit, stop) }()
		}
		started.Wait()
	}
	spawn(smallGoroutineCount + 100)

	base, err := take(newConfig(inFind, []Option{WithResources(Goroutines)}), baselineLook)
	require.NoError(t, err)
	n := runtime.NumGoroutine()
	quit <- struct{}{} // one twin exits…
	for runtime.NumGoroutine() >= n {
		runtime.Gosched() // (gone, not on its way out)
	}
	spawn(1) // …and its double starts, and stays
	// By census alone the swap is no change (gostack's TestCensusSwap);
	// by ID the new twin is new.
	rep, err := Find(base, WithResources(Goroutines), WithTimeout(100*time.Millisecond), WithTimerBound(100*time.Millisecond), WithExactGoroutines())
	require.NoError(t, err)
	require.True(t, rep.Leaked(), "by ID the new twin is new")
	assert.Equal(t, 1, rep.Count(Goroutines))
	assert.Contains(t, rep.String(), "leakcheck.twin")
}

// twin parks until told to quit (one at a time) or to stop (all).
func twin(started *sync.WaitGroup, quit, stop chan struct{}) {
	started.Done()
	select {
	case <-quit:
	case <-stop:
	}
}

// The second look is taken whatever the timeout (the first may have seen
// teardown in flight and taken all of it); the test's limit still bounds
// it, and the timeout bounds every later one.
func TestBudgetSecondLookPastTheTimeout(t *testing.T) {
	now := time.Now()
	past := now.Add(-time.Millisecond)
	b := &budget{poll: 3 * time.Second, lastPoll: 3 * time.Second, polls: 1, st: &settleState{}}
	assert.True(t, b.fits(now, past, time.Time{}), "a second look after a first that took the whole timeout")
	assert.True(t, b.fits(now, past, now.Add(4*time.Second)), "within the test's limit")
	assert.False(t, b.fits(now, past, now.Add(2*time.Second)), "not past the test's limit")
	b.polls = 2
	assert.False(t, b.fits(now, past, time.Time{}), "a third look waits on the timeout")
}

// A clean verdict that rests on a census says so; with exact mode it
// does not.
func TestCensusVerdictSaysSo(t *testing.T) {
	stop := make(chan struct{})
	var exited sync.WaitGroup
	defer func() { close(stop); exited.Wait() }()
	var started sync.WaitGroup
	started.Add(smallGoroutineCount + 100)
	exited.Add(smallGoroutineCount + 100)
	for range smallGoroutineCount + 100 {
		go func() { defer exited.Done(); started.Done(); <-stop }()
	}
	started.Wait()
	for _, exact := range []bool{false, true} {
		base, err := take(newConfig(inFind, []Option{WithResources(Goroutines)}), baselineLook)
		require.NoError(t, err)
		done := make(chan struct{})
		go func() { close(done) }() // created and gone: the census decides
		<-done
		opts := []Option{WithResources(Goroutines), WithTimeout(time.Second)}
		if exact {
			opts = append(opts, WithExactGoroutines())
		}
		rep, err := Find(base, opts...)
		require.NoError(t, err)
		require.False(t, rep.Leaked())
		said := strings.Contains(strings.Join(rep.Unchecked, "\n"), "census of stacks")
		assert.Equal(t, !exact, said, "exact=%v: %v", exact, rep.Unchecked)
	}
}
