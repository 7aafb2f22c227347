package leakcheck

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakcheck/go/internal/gostack"
)

// Find compares the process with base and reports what it holds now that
// it did not hold then: goroutines by ID, descriptors by number and
// identity, sockets by inode, threads by TID, child processes by pid and
// start time. It polls with back-off until nothing is left or the timeout
// passes, so asynchronous teardown has time to finish, and a clean process
// returns at once.
//
// With a nil base, Find uses goleak's meaning of "none": no goroutines but
// the runtime's, the testing framework's and the caller's, and nothing else
// beyond what the process held when package leakcheck was initialised.
//
// The error is for a check that could not be made (a target that exited,
// an unreadable /proc); leaks are in the Report.
func Find(base *Snapshot, opts ...Option) (*Report, error) {
	cfg := newConfig(inFind, opts)
	if err := cfg.err(); err != nil {
		return nil, err
	}
	c := &check{cfg: cfg, base: base, deadline: time.Now().Add(cfg.timeout), hardDeadline: time.Now().Add(cfg.timerBound())}
	return c.run()
}

// timerBound is the whole wait allowed for goroutines that may end on a
// timer: never shorter than the timeout.
func (c *config) timerBound() time.Duration {
	b := DefaultTimerBound
	if c.timerBoundSet {
		b = c.timerBoundValue
	}
	return max(b, c.timeout)
}

// onlyGoroutines returns the pending goroutines when nothing else is
// pending, nil otherwise.
func (f *found) onlyGoroutines() []Item {
	if len(f.incomplete) > 0 {
		return nil
	}
	for r, items := range f.items {
		if r != Goroutines && len(items) > 0 {
			return nil
		}
	}
	return f.items[Goroutines]
}

// allForever reports whether no goroutine can ever run again by itself.
func allForever(items []Item) bool {
	for _, it := range items {
		if it.wake.Outlook != gostack.Forever {
			return false
		}
	}
	return len(items) > 0
}

// mayEnd reports whether some goroutine may still end on a timer: one
// asleep (time.Sleep), or, once the collector has tried to prove them
// leaked, one in a select it could not prove (a timer's channel is
// reachable from the timer: never proven).
func mayEnd(items []Item, proved bool) bool {
	for _, it := range items {
		switch it.wake.Outlook {
		case gostack.OnTimer:
			return true
		case gostack.Unknown:
			// A select is where a timer's channel waits beside others (a
			// time.After timeout); a plain receive is left to the timeout.
			if proved && it.wake.Rule == "channel-wait" && strings.HasPrefix(it.Text, "[select") {
				return true
			}
		}
	}
	return false
}

// proveAfter is how long a check settles before it asks the collector to
// prove its goroutines leaked: enough for ordinary teardown to finish.
const proveAfter = 100 * time.Millisecond

// DefaultTimerBound is how long a check waits, in all, for goroutines that
// may end on their own when a timer fires (time.Sleep; with Go's leak
// proof, any wait it cannot prove forever: a time.After in a select, a
// context deadline), when nothing else is pending.
const DefaultTimerBound = 10 * time.Second

// check is one comparison against a baseline.
type check struct {
	cfg      *config
	base     *Snapshot // nil: the initial snapshot, goleak semantics for goroutines
	deadline time.Time
	// hardDeadline bounds the wait for goroutines that may end on a timer.
	hardDeadline time.Time
	// limit, in a test, is when the verdict must be out (a little before
	// the test binary's -timeout alarm); zero elsewhere. Polls stop in
	// time to leave the verdict's looks before it.
	limit time.Time

	// label, when set, attributes goroutines by the pprof label leakcheck
	// put on the checked test's goroutine (its value), instead of by ID:
	// set when checked tests overlap.
	label string
	// processWideNote, when set, says why the process-wide resources are
	// not checked (overlapping tests); the report carries it.
	processWideNote string
	// blame, when set, tells this test's process-wide items from those
	// of the tests it overlapped, by where they were created.
	blame *blame
	// noSettle takes one look instead of polling (a test that already failed).
	noSettle bool
	// last is the look the verdict came from.
	last *Snapshot
	// settle is what the settle loop keeps between looks.
	settle *settleState
}

// found is what one look found, before it is described for a report.
type found struct {
	items     map[Resource][]Item
	ignored   []Ignored
	unchecked []string
	// incomplete: a resource could not be read, so the look cannot be
	// called clean.
	incomplete []string
	notes      []string // for a person, not a verdict
}

// clean reports whether nothing beyond the tolerances was found, and
// everything could be looked at.
func (f *found) clean(cfg *config) bool {
	if len(f.incomplete) > 0 {
		return false
	}
	for r, items := range f.items {
		if len(items) > cfg.tolerance[r] {
			return false
		}
	}
	return true
}

func (c *check) run() (*Report, error) {
	base := c.base
	if base == nil {
		var err error
		if base, err = initialSnapshot(); err != nil {
			return nil, err
		}
	}
	if base.PID != c.cfg.target.pid {
		return nil, fmt.Errorf("leakcheck: the baseline describes pid %d but the check targets %s; take the baseline with the same WithPID option", base.PID, c.cfg.target)
	}
	if missing := c.cfg.resources &^ base.resources; c.base != nil && missing != 0 {
		return nil, fmt.Errorf("leakcheck: the baseline was taken without %s; take it with the same WithResources option as the check", missing)
	}
	if !c.cfg.allowGCDuringSettle {
		pauseGC()
		defer resumeGC()
	}
	st := &settleState{exact: c.cfg.exactGoroutines}
	if c.base != nil {
		st.base = base.goroutines
	}
	var release func()
	st.dumper, release = gostack.PooledDumper()
	c.cfg.settle, c.settle = st, st
	defer func() {
		c.cfg.settle = nil
		st.last, st.dumper = nil, nil // snapshots kept (c.last) hold no dump
		release()
	}()
	start := time.Now()
	b := newBudget(base, st, !c.noSettle && !c.cfg.allowGCDuringSettle)
	sleep := time.Millisecond
	proved, extended, refreshed := false, false, false
	var last *Snapshot
	var lastFound *found
	for {
		now, err := takeSince(c.cfg, pollLook, base)
		if err != nil {
			return nil, err
		}
		f, err := c.diff(base, now)
		if err != nil {
			return nil, err
		}
		b.looked(now)
		if f.clean(c.cfg) {
			c.last = now
			return c.report(base, now, f, time.Since(start)), nil
		}
		last, lastFound = now, f
		if c.noSettle {
			break
		}
		pending := f.onlyGoroutines()
		if pending != nil && allForever(pending) {
			break // nothing will ever wake them: fail now, not at the timeout
		}
		if pending != nil && !proved && time.Since(start) >= proveAfter && onlyPause() && gostack.CanProve() {
			// Let the collector prove what nothing can reach. Its cycle
			// runs finalizers, harmless here: no descriptor is pending.
			proved = true
			if _, _, err := gostack.DetectLeaks(); err == nil {
				st.forceDump = true // the proof marks stacks: read them
				continue            // look again: proven goroutines are marked
			}
		}
		wait := b.next(sleep, c.deadline, c.limit)
		if !b.fits(time.Now().Add(wait), c.deadline, c.limit) {
			if pending != nil && !extended && st.carried && !refreshed && leaves(b.poll+st.dumpCost+b.reserve(), c.limit) {
				// The goroutines' states are a carried reading: what
				// they wait on now decides whether a timer may end them.
				refreshed, st.forceDump = true, true
				continue
			}
			if extended || pending == nil || !mayEnd(pending, proved) || !c.hardDeadline.After(c.deadline) {
				break
			}
			// Goroutines that may end on a timer get the longer bound.
			extended, c.deadline = true, c.hardDeadline
			if wait = b.next(sleep, c.deadline, c.limit); !b.fits(time.Now().Add(wait), c.deadline, c.limit) {
				break
			}
		}
		time.Sleep(wait)
		if sleep *= 2; sleep > 10*time.Millisecond {
			sleep = 10 * time.Millisecond
		}
	}
	now, f, err := c.verdict(base, last, lastFound, b)
	if err != nil {
		return nil, err
	}
	c.last = now
	waited := time.Since(start)
	if c.noSettle {
		waited = 0 // one look, no waiting
	}
	return c.report(base, now, f, waited), nil
}

// verdict takes the look a failing report comes from: once more, with
// everything a report needs, and once more after collecting garbage (see
// gcVerdict). A look that would end past the deadline is not started: the
// report then comes from the last look, and says so.
func (c *check) verdict(base, last *Snapshot, lastFound *found, b *budget) (*Snapshot, *found, error) {
	if !c.noSettle && !leaves(b.describe(), c.limit) {
		lastFound.notes = append(lastFound.notes, fmt.Sprintf("reported from the last look, %v after the check began: a detailed look takes about %v, which would end past the test's deadline (descriptors and sockets are described as that look saw them)", last.Time.Sub(b.start).Round(time.Millisecond), b.describe().Round(time.Millisecond)))
		return last, lastFound, nil
	}
	now, err := take(c.cfg, describeLook)
	if err != nil {
		return nil, nil, err
	}
	f, err := c.diff(base, now)
	if err != nil {
		return nil, nil, err
	}
	b.looked(now)
	switch {
	case f.clean(c.cfg) || c.noSettle || c.cfg.allowGCDuringSettle:
	case !onlyPause():
		// Not while another check waits: the collection could close its
		// test's unreachable files and hide them from it. Said, since a
		// goroutine a finalizer would stop is then reported.
		f.notes = append(f.notes, "no garbage collection before this verdict: another check was waiting (a goroutine a finalizer would stop may be among these)")
	case !leaves(b.collect()+b.describe(), c.limit):
		f.notes = append(f.notes, fmt.Sprintf("no garbage collection before this verdict: collecting and looking again takes about %v, which would end past the test's deadline (a goroutine a finalizer would stop may be among these)", (b.collect()+b.describe()).Round(time.Millisecond)))
	default:
		// Before failing, collect garbage and look again: see gcVerdict.
		// Generous: under -race on a loaded machine a collection takes
		// seconds; the bound is for the livelock, not for slowness.
		within := max(collectPatience, 4*b.collect())
		if !c.limit.IsZero() {
			within = min(within, time.Until(c.limit)-b.describe())
		}
		if !collectGarbage(within) {
			f.notes = append(f.notes, fmt.Sprintf("no garbage collection before this verdict: it had not finished after %v (a goroutine allocating without pause can hold it up; a goroutine a finalizer would stop may be among these)", within.Round(time.Millisecond)))
			break
		}
		after, err := take(c.cfg, describeLook)
		if err != nil {
			return nil, nil, err
		}
		f2, err := c.diff(base, after)
		if err != nil {
			return nil, nil, err
		}
		f, now = gcVerdict(f, f2), after
	}
	return now, f, nil
}

// A budget is what a settling check knows of its own looks' cost, so it
// starts none that would end past its deadline and keeps the garbage of its
// looks (the collector is paused) to a bound.
//
// The first look is always taken: a verdict needs one; and a second one
// whatever the timeout (the first, at once after the body, may have seen
// teardown in flight, and in a large process taken the whole timeout), if
// the test's limit allows. After them, a poll is started only
// if it ends before the deadline (the timeout: how long the check waits)
// and, in a test, leaves the verdict's detailed looks and garbage
// collection time before the test's limit, each estimated from the dearest
// look of its kind so far (the baseline stands for the detailed look until
// one is taken: it dumped every goroutine too).
//
// A poll's garbage is measured: the polls of one check may allocate twice
// the garbage budget (the larger of minPollGarbage and two first polls'
// worth), spent at full speed up to the budget, then spread over the time
// left, so that a check waiting long on a large process holds a bounded
// amount of garbage, not one look's per poll.
type budget struct {
	start        time.Time
	base         time.Duration // the baseline's look
	poll, detail time.Duration // the dearest poll, and detailed look, so far
	lastPoll     time.Duration // the last poll: what the next costs, most likely
	polls        int
	garbage      uint64       // bytes the polls allocated
	perPoll      uint64       // the most one poll allocated
	allocs       uint64       // the runtime's total at the last look's end
	maxGarbage   uint64       // the budget; 0 until the first poll
	collects     bool         // the verdict will collect garbage
	st           *settleState // its dumps' cost
}

// minPollGarbage is the least garbage budget of a check's polls.
const minPollGarbage = 16 << 20

func newBudget(base *Snapshot, st *settleState, collects bool) *budget {
	return &budget{start: time.Now(), base: base.took, st: st, allocs: heapAllocated(), collects: collects}
}

// looked records a look that has just ended.
func (b *budget) looked(s *Snapshot) {
	cost := time.Since(s.Time)
	total := heapAllocated()
	used := total - b.allocs
	b.allocs = total
	if s.look.detailed() {
		b.detail = max(b.detail, cost)
		return
	}
	if b.maxGarbage == 0 {
		b.maxGarbage = max(minPollGarbage, 2*used)
	}
	b.poll = max(b.poll, cost)
	b.lastPoll = cost
	b.polls++
	b.garbage += used
	b.perPoll = max(b.perPoll, used)
}

// describe estimates a detailed look: the dearest so far, or until there
// is one, a poll plus a goroutine dump (the detailed look reads the stacks),
// or the baseline's look, which dumped them.
func (b *budget) describe() time.Duration {
	switch {
	case b.detail > 0:
		return b.detail
	case b.st != nil && b.st.dumpCost > 0:
		return b.poll + b.st.dumpCost
	}
	return max(b.base, b.poll)
}

// collect estimates collectGarbage: two collections of the live heap
// (about a nanosecond per live byte, on one core) and their finalizers.
func (b *budget) collect() time.Duration {
	return 2 * (time.Duration(heapLive()) + time.Millisecond)
}

// reserve is what the verdict needs after the last poll.
func (b *budget) reserve() time.Duration {
	r := b.describe()
	if b.collects {
		r += b.collect() + b.describe()
	}
	return r
}

// latest is the latest moment a poll may start: it must end before the
// deadline (the timeout, or the timer bound), as the last poll did, and,
// when the check runs in a test, leave the verdict its looks before the
// test's limit even if it costs as much as the dearest poll; when those
// looks no longer fit at all, end before the limit itself.
func (b *budget) latest(deadline, limit time.Time) time.Time {
	t := deadline.Add(-b.lastPoll)
	if b.polls == 1 {
		// A second look, even past the timeout: the first, taken at
		// once after the body, may have seen teardown in flight, and in
		// a large process it may have taken the whole timeout. Only the
		// test's limit bounds it.
		t = time.Now().Add(time.Hour)
	}
	if limit.IsZero() {
		return t
	}
	l := limit.Add(-b.poll - b.reserve())
	if !l.After(time.Now()) {
		// No verdict look fits any more: the report will come from the
		// last poll, so polls go on while one still ends before the
		// limit (teardown that finishes meanwhile is seen).
		l = limit.Add(-b.poll)
	}
	if l.Before(t) {
		t = l
	}
	return t
}

// next returns how long to sleep before the next poll, given the back-off:
// the back-off while the polls' garbage is within the budget; past it, the
// time left shared among the polls the rest of the allowance pays for; once
// the allowance is spent, until the last moment a poll still fits.
func (b *budget) next(backoff time.Duration, deadline, limit time.Time) time.Duration {
	if b.garbage < b.maxGarbage || b.perPoll == 0 {
		return backoff
	}
	// A little to spare for the time this takes.
	left := time.Until(b.latest(deadline, limit)) - time.Millisecond
	polls := (2*b.maxGarbage - min(b.garbage, 2*b.maxGarbage)) / b.perPoll
	if polls == 0 {
		return max(backoff, left)
	}
	return max(backoff, left/time.Duration(polls+1))
}

// fits reports whether a poll may start at t.
func (b *budget) fits(t, deadline, limit time.Time) bool {
	return t.Before(b.latest(deadline, limit))
}

// leaves reports whether a look taking d, started now, ends before the
// test's limit (always, outside a test).
func leaves(d time.Duration, limit time.Time) bool {
	return limit.IsZero() || time.Now().Add(d).Before(limit)
}

var allocSamples = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
var allocMu sync.Mutex

func heapAllocated() uint64 { return readMetric(0) }
func heapLive() uint64      { return readMetric(1) }

func readMetric(i int) uint64 {
	allocMu.Lock()
	defer allocMu.Unlock()
	metrics.Read(allocSamples[i : i+1])
	if allocSamples[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return allocSamples[i].Value.Uint64()
}

// collectGarbage runs two collections, each waiting (briefly) for the
// finalizers it queued: the second frees what the first one's finalizers
// let go. It gives up after within and reports false: on one CPU, a
// goroutine that allocates without pause can keep runtime.GC from
// finishing its sweep for minutes. The collection then goes on in its own
// goroutine (leakcheck's, never reported).
func collectGarbage(within time.Duration) bool {
	finished := make(chan struct{})
	collectors.Add(1)
	gc := runGC // read here: a collection given up on still runs when a test swaps it
	go func() {
		defer close(finished)
		defer collectors.Add(-1) // before finished is closed
		type sentinel struct{ p *int }
		for range 2 {
			done := make(chan struct{})
			s := &sentinel{p: new(int)}
			runtime.SetFinalizer(s, func(*sentinel) { close(done) })
			s = nil
			gc()
			select {
			case <-done:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-finished:
		return true
	case <-t.C:
		return false
	}
}

// collectPatience is the least collectGarbage waits before giving up, and
// runGC the collection it waits for (both replaced by tests, to reach the
// give-up path without the runtime's livelock).
var (
	collectPatience = 10 * time.Second
	runGC           = runtime.GC
)

// collectors counts collectGarbage's goroutines still running, some of
// them given up on: while one runs, finalizers may run during any check's
// wait, which the report then says.
var collectors atomic.Int32

// collectorFunc is collectGarbage's goroutine, as stacks name it.
const collectorFunc = "github.com/leakcheck/go/leakcheck.collectGarbage.func1"

// gcVerdict reconciles the looks before (f1) and after (f2) a garbage
// collection. The check waited with the collector paused, so that no
// finalizer could quietly close a leaked file; now it lets them run:
//   - a descriptor or socket that only a finalizer closed is still a leak
//     (nothing called Close), reported as such;
//   - a goroutine, thread or child that ended when a finalizer stopped it
//     (a cache's janitor, stopped when the cache became garbage) is not a
//     leak: counted in the ignored note.
func gcVerdict(f1, f2 *found) *found {
	out := *f2
	out.items = map[Resource][]Item{}
	for r, items := range f2.items {
		out.items[r] = items
	}
	counts := map[string]int{}
	for r, before := range f1.items {
		still := map[uint64]bool{}
		for _, it := range f2.items[r] {
			still[it.ID] = true
		}
		_, closesLeak := kindOf(r).(finalizerLeak)
		for _, it := range before {
			if still[it.ID] {
				continue
			}
			if closesLeak {
				if strings.HasPrefix(it.Text, "pidfd") {
					it.Text += " — closed only by the garbage collector: nothing called Process.Wait or Release"
				} else {
					it.Text += " — closed only by the garbage collector: nothing called Close"
				}
				out.items[r] = append(out.items[r], it)
				continue
			}
			counts[fmt.Sprintf("%s stopped by a finalizer", r)]++
		}
		sort.SliceStable(out.items[r], func(i, j int) bool { return out.items[r][i].ID < out.items[r][j].ID })
	}
	if len(counts) > 0 {
		for _, ig := range out.ignored {
			counts[ig.What] += ig.Count
		}
		out.ignored = nil
		for what, n := range counts {
			out.ignored = append(out.ignored, Ignored{What: what, Count: n})
		}
		sort.Slice(out.ignored, func(i, j int) bool { return out.ignored[i].What < out.ignored[j].What })
	}
	return &out
}

// diff finds what now holds that base did not, kind by kind.
func (c *check) diff(base, now *Snapshot) (*found, error) {
	f := &found{items: map[Resource][]Item{}}
	d := newDiffing(c.cfg, c.base == nil, c.label)
	var skipped []string
	needsOrigins := false
	for _, k := range kinds {
		r := k.resource()
		if c.cfg.resources&r == 0 {
			continue
		}
		if err := now.unsupported[r]; err != nil {
			f.unchecked = append(f.unchecked, fmt.Sprintf("%s not checked: %v", r, err))
			continue
		}
		if err := now.failed[r]; err != nil {
			f.incomplete = append(f.incomplete, fmt.Sprintf("%s could not be read: %v", r, err))
			continue
		}
		if !k.collected(now) {
			continue
		}
		_, wide := k.(processWide)
		_, knowsOrigins := k.(originer)
		tr := tracerFor(now.target)
		overlapped := wide && c.processWideNote != ""
		if overlapped && (c.blame == nil || tr == nil || !knowsOrigins) {
			skipped = append(skipped, name(k))
			continue
		}
		items, err := k.diff(d, base, now)
		if err != nil {
			return nil, err
		}
		items = c.dropCurrent(k, items, now, d)
		if overlapped {
			var unknown int
			items, unknown = c.blame.split(k, items, annotate(k, tr, items, base.Time, c.cfg.testFn), d)
			if unknown > 0 {
				f.unchecked = append(f.unchecked, fmt.Sprintf("%s not checked: where they were created does not tell which test's they are; %s", plural(unknown, k.resource()), c.processWideNote))
			}
		} else if now.look.detailed() && len(items) > 0 {
			if annotate(k, tracerFor(now.target), items, base.Time, c.cfg.testFn) == nil {
				if _, ok := k.(originer); ok {
					needsOrigins = true
				}
			}
		}
		if len(items) > 0 {
			f.items[r] = items
		}
	}
	if len(skipped) > 0 {
		f.unchecked = append(f.unchecked, fmt.Sprintf("%s not checked: %s", joinAnd(skipped), c.processWideNote))
	}
	f.ignored = d.ignoredList()
	f.unchecked = append(f.unchecked, d.notes...)
	if needsOrigins {
		if note := originsNote(now.target); note != "" {
			f.notes = append(f.notes, note)
		}
	}
	return f, nil
}

// dropCurrent leaves out what the IgnoreCurrent snapshots hold: an item is
// kept only if it is new against each of them too.
func (c *check) dropCurrent(k kind, items []Item, now *Snapshot, d *diffing) []Item {
	for _, ig := range c.cfg.current {
		cur := ig.snap
		if len(items) == 0 || cur.PID != now.PID || !k.collected(cur) {
			continue
		}
		newer, err := k.diff(newDiffing(c.cfg, false, ""), cur, now)
		if err != nil {
			continue
		}
		fresh := map[uint64]bool{}
		for _, it := range newer {
			fresh[it.ID] = true
		}
		kept := items[:0]
		for _, it := range items {
			if fresh[it.ID] {
				kept = append(kept, it)
			} else {
				d.ignored[ig.name]++
			}
		}
		items = kept
	}
	return items
}

// joinAnd renders "fds, sockets and threads".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// report describes what f found for a person and for code.
func (c *check) report(base, now *Snapshot, f *found, waited time.Duration) *Report {
	r := &Report{Target: c.cfg.target.String(), Waited: waited, tolerance: c.cfg.tolerance, Ignored: f.ignored, Incomplete: f.incomplete, notes: f.notes}
	r.Unchecked = append(r.Unchecked, f.unchecked...)
	if collectors.Load() > 0 && c.cfg.target.self && !c.noSettle {
		// A caveat on a clean verdict too: what it may have hidden.
		r.Unchecked = append(r.Unchecked, "descriptors closed only by a finalizer may have passed: a garbage collection a verdict gave up waiting for was still running during this check's wait")
	}
	if c.settle != nil && c.settle.byCensus && len(f.items[Goroutines]) == 0 {
		r.Unchecked = append(r.Unchecked, "goroutines compared by a census of stacks (more than 1000): a goroutine that exited while another with the same stack started would pass; WithExactGoroutines compares IDs")
	}
	sort.Strings(r.Unchecked)
	var dump strings.Builder
	for _, k := range kinds {
		items := f.items[k.resource()]
		if len(items) > 0 {
			r.Categories = append(r.Categories, Category{Resource: k.resource(), Groups: group(items)})
		}
	}
	if r.Leaked() {
		for _, k := range kinds {
			if c.cfg.resources&k.resource() != 0 && k.collected(now) {
				dump.WriteString(k.details(base, now, f.items[k.resource()]))
			}
		}
		r.dump = dump.String()
	}
	return r
}

// The garbage collector is paused while checks settle: a finalizer could
// otherwise close an unreachable, leaked *os.File or net.Conn during the
// wait and turn a real leak into a pass. Pauses nest across parallel checks.
var gcPause struct {
	sync.Mutex
	depth   int
	percent int
}

func pauseGC() {
	gcPause.Lock()
	defer gcPause.Unlock()
	if gcPause.depth == 0 {
		gcPause.percent = debug.SetGCPercent(-1)
	}
	gcPause.depth++
}

// onlyPause reports whether the calling check is the only one waiting.
func onlyPause() bool {
	gcPause.Lock()
	defer gcPause.Unlock()
	return gcPause.depth == 1
}

func resumeGC() {
	gcPause.Lock()
	defer gcPause.Unlock()
	gcPause.depth--
	if gcPause.depth == 0 {
		debug.SetGCPercent(gcPause.percent)
	}
}

// Compare reports what after holds that before did not, by identity, as
// Find does, but from the two snapshots alone: it neither waits nor looks
// at the process again. Both must describe the same process. Use it for
// before/after scripts and for snapshots stored and read back; resources
// that one of the snapshots lacks are not compared. Sockets are described
// from after.Sockets.
func Compare(before, after *Snapshot, opts ...Option) (*Report, error) {
	cfg := newConfig(inCompare, opts)
	if before == nil || after == nil {
		cfg.misusef("Compare needs two snapshots; got nil")
	} else if before.PID != after.PID {
		cfg.misusef("Compare: the snapshots describe pid %d and pid %d", before.PID, after.PID)
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	cfg.resources &= before.collected() & after.collected()
	cfg.target = pidTarget(before.PID)
	for _, s := range []*Snapshot{before, after} {
		if s.target.pid == 0 { // built by hand or read back
			s.target = cfg.target
		}
	}
	c := &check{cfg: cfg, base: before, noSettle: true, deadline: time.Now()}
	f, err := c.diff(before, after)
	if err != nil {
		return nil, err
	}
	return c.report(before, after, f, 0), nil
}

// lookOnce reports what the process holds now that base did not, in one
// look with the details a report needs and no waiting: what live objects
// hold in a cycle, the culprits at the end of a soak. The collector is
// paused during the look, so a socket is not closed by a finalizer between
// the descriptor table and the socket dump (and left undescribed).
func lookOnce(cfg *config, base *Snapshot) (*Report, error) {
	pauseGC()
	defer resumeGC()
	c := &check{cfg: cfg, base: base, noSettle: true, deadline: time.Now()}
	now, err := take(cfg, describeLook)
	if err != nil {
		return nil, err
	}
	f, err := c.diff(base, now)
	if err != nil {
		return nil, err
	}
	return c.report(base, now, f, 0), nil
}
