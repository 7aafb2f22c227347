package leakcheck

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/leakcheck/go/internal/gostack"
)

// labelKey is the pprof label leakcheck puts on a checked test's goroutine.
// Goroutines inherit their creator's labels, so every goroutine the test
// starts (and every goroutine those start) carries the test's name.
const labelKey = "leakcheck.test"

// goroutineKind is the goroutines of the current process, by ID.
type goroutineKind struct{}

func (goroutineKind) resource() Resource          { return Goroutines }
func (goroutineKind) names() (string, string)     { return "goroutine", "goroutines" }
func (goroutineKind) itemNouns() (string, string) { return "goroutine", "goroutines" }
func (goroutineKind) goName() string              { return "Goroutines" }
func (goroutineKind) selfOnly()                   {}
func (goroutineKind) countFirst()                 {}
func (goroutineKind) collected(s *Snapshot) bool  { return s.goroutines != nil || s.Goroutines != nil }

func (goroutineKind) collect(s *Snapshot, l look) error {
	if l == sampleLook {
		s.goroutineCount = runtime.NumGoroutine()
		s.goroutines = &goroutineState{}
		return nil
	}
	if st := s.settle; st != nil && !l.baseline() {
		s.goroutines = lookSettling(st, l.detailed())
		return nil
	}
	g, err := takeGoroutines(l.baseline(), l.detailed())
	if err != nil {
		return err
	}
	s.goroutines = g
	if l == fullLook {
		s.Goroutines = g.public()
	}
	return nil
}

// The goroutines that are never a test's leak.
var runtimeGoroutines = filter[*goroutine]{name: "runtime and testing goroutines",
	drop: func(g *goroutine) bool { return gostack.RuntimeOwned(*g) }}

// leakcheck's own goroutines: a garbage collection a verdict gave up
// waiting for, still running.
var ownGoroutines = filter[*goroutine]{name: "leakcheck's own goroutines",
	drop: func(g *goroutine) bool { return g.HasFunction(collectorFunc) }}

// A goroutine whose function has returned is gone, not left behind: caught
// on its way out (the verdict's collector, just done, was, 1 in 12 runs on
// a busy machine; a goroutine a finalizer just stopped can be), it holds
// nothing. Not an ignore, so not counted.
var exitingGoroutines = filter[*goroutine]{drop: func(g *goroutine) bool { return g.Exiting() }}

// defaultGoroutineFilters are the goroutines no check reports, in order.
var defaultGoroutineFilters = []filter[*goroutine]{exitingGoroutines, runtimeGoroutines, ownGoroutines}

func (goroutineKind) diff(d *diffing, base, now *Snapshot) ([]Item, error) {
	if now.goroutines == nil || (!d.none && base.goroutines == nil) {
		return nil, nil
	}
	var baseState *goroutineState
	if !d.none {
		baseState = base.goroutines
	}
	candidates, err := newGoroutines(baseState, now.goroutines, d.none, d.label, now.settle)
	if err != nil || len(candidates) == 0 {
		return nil, err
	}
	gs := make([]*goroutine, len(candidates))
	for i := range candidates {
		gs[i] = &candidates[i]
	}
	// The goroutine running the check is the caller's, not a leak (the
	// one that took the baseline is in the baseline); asked only when
	// there are candidates, since it costs a stack trace.
	self := gostack.CurrentID()
	caller := filter[*goroutine]{drop: func(g *goroutine) bool { return g.ID == self }}
	gs = keep(d, gs, []filter[*goroutine]{caller}, defaultGoroutineFilters, d.cfg.goroutineFilters)
	sort.Slice(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
	items := make([]Item, 0, len(gs))
	for _, g := range gs {
		items = append(items, goroutineItem(d, g))
	}
	return items, nil
}

// goroutineItem is one goroutine of a group. Groups lead with the first
// frame in the user's code (the top frame too when it is elsewhere, in
// the runtime or a library), then what started it and where, and the test
// that started it when that is not the checking test (its pprof label):
//
//	tcpforward.(*loop).run [syscall] in syscall.Syscall6, created by tcpforward.newEventLoop at tcpforward/loop_linux.go:41
//
// Each item shows how long it has waited and the line it waits at.
func goroutineItem(d *diffing, g *goroutine) Item {
	top := g.TopFunction()
	lead, ok := userFrame(g.Frames)
	if !ok && len(g.Frames) > 0 {
		lead = g.Frames[0]
	}
	key := fmt.Sprintf("%s [%s]", lead.Func, g.State)
	if lead.Func != top {
		key += " in " + top
	}
	if cb := g.Creator; cb.Func != "" {
		key += ", created by " + cb.Func
		if cb.File != "" {
			key += fmt.Sprintf(" at %s:%d", shortFile(cb.File), cb.Line)
		}
	}
	if test := g.Labels[labelKey]; test != "" && test != d.test {
		key += " (test " + test + ")"
	}
	text := "[" + g.State
	if g.Wait > 0 {
		text += ", " + g.Wait.String()
	}
	text += "]"
	if lead.File != "" {
		text += fmt.Sprintf(" at %s:%d", lead.File, lead.Line)
	}
	wake := gostack.Classify(*g)
	if g.Leaked {
		text += " — proved leaked: nothing can ever wake it"
	}
	test := g.Labels[labelKey]
	if name := testName(g.Creator.Func); test == "" && strings.HasPrefix(name, "Test") {
		test = name // started by a test function itself
	}
	return Item{Resource: Goroutines, ID: g.ID, Text: text, group: key, detail: g.Raw, test: test, wake: wake}
}

func (goroutineKind) count(s *Snapshot, m map[string]int) {
	switch {
	case s.look == sampleLook:
		m[name(goroutineKind{})] = s.goroutineCount
	case s.Goroutines != nil:
		m[name(goroutineKind{})] = len(s.Goroutines)
	case s.goroutines != nil && s.goroutines.dump != nil:
		m[name(goroutineKind{})] = len(s.goroutines.dump)
	case s.goroutines != nil && s.goroutines.count > 0:
		m[name(goroutineKind{})] = s.goroutines.count
	}
}

func (goroutineKind) details(base, now *Snapshot, items []Item) string {
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("== leaked goroutines, full stacks\n\n")
	for _, it := range items {
		b.WriteString(it.detail)
		b.WriteString("\n\n")
	}
	return b.String()
}

// Goroutine is a goroutine of the current process, as a report shows it.
type Goroutine struct {
	ID        uint64
	State     string            // "chan receive", "IO wait", …
	Function  string            // the innermost function of its stack
	CreatedBy string            // the function whose go statement started it
	Labels    map[string]string // its pprof labels, when the runtime printed them
	Stack     string            // the full text of its stack, as the runtime printed it
}

// String renders the goroutine in one line:
// "goroutine 42 [chan receive]: main.worker, created by main.start".
func (g Goroutine) String() string {
	s := fmt.Sprintf("goroutine %d [%s]: %s", g.ID, g.State, g.Function)
	if g.CreatedBy != "" {
		s += ", created by " + g.CreatedBy
	}
	return s
}

// goroutine is the collector's view of one goroutine, which the goleak-style
// filters match against.
type goroutine = gostack.Goroutine

// smallGoroutineCount is the number of goroutines up to which a check
// compares goroutine IDs on every look (a dump costs tens of microseconds
// at this size). Above it, a poll first compares censuses of stacks
// (runtime.GoroutineProfile, no stop-the-world text dump) and takes the
// dump only when the census grew, unless WithExactGoroutines asks for IDs
// on every look.
const smallGoroutineCount = 1000

// goroutineState is a snapshot's view of the goroutines: the exact set of
// IDs for a baseline, and whatever is cheapest for a later look.
type goroutineState struct {
	created    uint64 // goroutines created since the process started (Go ≥ 1.26)
	hasCreated bool
	count      int                 // runtime.NumGoroutine at the look
	census     *gostack.Census     // taken when the process has many goroutines
	ids        []uint64            // sorted; taken for a baseline
	dump       []gostack.Goroutine // every goroutine, parsed: Take's look, and looks outside a check
	// fresh are the goroutines not in the baseline, parsed (a check's
	// looks, from its Dumper); freshKnown says they were looked for.
	fresh      []gostack.Goroutine
	freshKnown bool
	// tests are the goroutines running a test (testing.tRunner on their
	// stack), parsed at a check's verdict: who ran alongside.
	tests []gostack.Goroutine
}

func takeGoroutines(baseline, describe bool) (*goroutineState, error) {
	s := &goroutineState{count: runtime.NumGoroutine()}
	s.created, s.hasCreated = goroutinesCreated()
	if s.count > smallGoroutineCount {
		c, err := gostack.TakeCensus()
		if err != nil {
			return nil, err
		}
		s.census = c
	}
	switch {
	case describe:
		if err := s.takeDump(); err != nil {
			return nil, err
		}
		if baseline {
			// The IDs are in the dump: no second, header-only dump.
			s.ids = make([]uint64, len(s.dump))
			for i, g := range s.dump {
				s.ids[i] = g.ID
			}
			slices.Sort(s.ids)
		}
	case baseline:
		s.ids = gostack.IDs()
	}
	return s, nil
}

// lookSettling is a look of a settling check, which owns a Dumper: it
// records the counts only, and diff reads what it needs (see fresh).
func lookSettling(st *settleState, describe bool) *goroutineState {
	s := &goroutineState{count: runtime.NumGoroutine()}
	s.created, s.hasCreated = goroutinesCreated()
	if describe {
		st.forceDump = true // a verdict reads the stacks now
	}
	return s
}

var createdSample = []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
var createdMu sync.Mutex

// goroutinesCreated reads the runtime's count of goroutines ever created,
// where the runtime has it (Go ≥ 1.26).
func goroutinesCreated() (uint64, bool) {
	createdMu.Lock()
	defer createdMu.Unlock()
	metrics.Read(createdSample)
	if createdSample[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return createdSample[0].Value.Uint64(), true
}

func (s *goroutineState) takeDump() error {
	if s.dump != nil {
		return nil
	}
	d, err := gostack.All()
	if err != nil {
		return err
	}
	s.dump = d
	return nil
}

// public converts the dump for Snapshot.Goroutines.
func (s *goroutineState) public() []Goroutine {
	out := make([]Goroutine, 0, len(s.dump))
	for _, g := range s.dump {
		out = append(out, publicGoroutine(g))
	}
	return out
}

func publicGoroutine(g gostack.Goroutine) Goroutine {
	return Goroutine{ID: g.ID, State: g.State, Function: g.TopFunction(), CreatedBy: g.CreatedBy(), Labels: g.Labels, Stack: g.Raw}
}

// settleState is what one settling check keeps from one look to the next,
// so that a look costs what changed and its memory stays bounded with the
// collector paused: one dump buffer, reused (a Dumper parses only the
// goroutines not in the baseline, and each of those once while its stack
// stays the same), and the last look's goroutines.
type settleState struct {
	base   *goroutineState // the check's baseline (nil: goleak's "none")
	dumper *gostack.Dumper
	exact  bool            // WithExactGoroutines: IDs on every look
	last   *goroutineState // the last look that read the goroutines
	// forceDump makes the next look read the stacks even if the counts
	// did not change: after a leak proof (which marks stacks), at a
	// verdict.
	forceDump bool
	// carried: the last look's goroutines are an earlier look's reading
	// (the same set; their states may have moved on).
	carried bool
	// byCensus: the last look found no new goroutine by census alone,
	// which a report says (see WithExactGoroutines).
	byCensus bool
	dumps    int           // dumps taken, for tests and the scale notes
	dumpCost time.Duration // the dearest dump so far
}

// freshSince reads the goroutines of a settling check's look that are not
// in base, doing the least that is exact (or, above smallGoroutineCount
// and without WithExactGoroutines, the least a census allows):
//   - the same number of goroutines, none created since the last look:
//     the last look's answer;
//   - none created since the baseline: none;
//   - many goroutines and a census that did not grow: none (the one change
//     a census cannot see is a goroutine that exits while one with the
//     same stack starts); a census the same as the last look's, where the
//     runtime does not count creations (Go 1.25): the last look's answer;
//   - otherwise a dump into the check's Dumper, parsing only what is new.
func freshSince(st *settleState, base, now *goroutineState, none bool) ([]gostack.Goroutine, error) {
	last := st.last
	force := st.forceDump
	st.forceDump = false
	st.carried = false
	if !force && last != nil && now.hasCreated && last.hasCreated && now.created == last.created && now.count == last.count {
		now.census = last.census
		st.carried = true
		return last.fresh, nil
	}
	st.byCensus = false
	if !force && !none && base.hasCreated && now.hasCreated && now.created == base.created {
		return nil, nil
	}
	if !force && !none && !st.exact && now.count > smallGoroutineCount && base.census != nil {
		c, err := gostack.TakeCensus()
		if err != nil {
			return nil, err
		}
		now.census = c
		if !c.Grew(base.census) {
			st.byCensus = true
			return nil, nil
		}
		if last != nil && !now.hasCreated && last.census != nil && c.Same(last.census) {
			// Without the runtime's count of goroutines created (Go
			// 1.25), the census tells that nothing changed since the
			// last look, within its one limit.
			st.carried = true
			return last.fresh, nil
		}
	}
	t0 := time.Now()
	st.dumper.Take()
	st.dumps++
	st.dumpCost = max(st.dumpCost, time.Since(t0))
	var baseIDs []uint64
	if !none {
		baseIDs = base.ids
	}
	fresh, err := st.dumper.NewSince(baseIDs)
	if err != nil {
		return nil, err
	}
	if force {
		// A verdict: who else runs a test, and the IDs, for a later
		// check that ignores what this one saw (a parked test's).
		if now.tests, err = st.dumper.Containing("testing.tRunner("); err != nil {
			return nil, err
		}
		now.ids = st.dumper.IDs(nil)
	}
	return fresh, nil
}

// newGoroutines returns the goroutines of now that are not in base. With
// none, base is ignored: every goroutine counts (goleak's VerifyNone). With
// a label, only goroutines carrying that test's label are candidates
// (parallel attribution).
func newGoroutines(base, now *goroutineState, none bool, label string, st *settleState) ([]gostack.Goroutine, error) {
	if st != nil && base == st.base && !now.freshKnown {
		fresh, err := freshSince(st, base, now, none)
		if err != nil {
			return nil, err
		}
		now.fresh, now.freshKnown = fresh, true
		st.last = now
	}
	if now.freshKnown && base != st.base {
		// Another baseline (an IgnoreCurrent snapshot): what is new
		// against both. Every baseline records IDs.
		if base == nil || base.ids == nil {
			return now.fresh, nil // a poll's look, without IDs: all may be new
		}
		return gostack.NewSinceIDs(base.ids, now.fresh), nil
	}
	switch {
	case label != "":
		if now.freshKnown && len(now.fresh) == 0 {
			return nil, nil
		}
		lc, err := gostack.TakeLabeledCensus()
		if err != nil {
			return nil, err
		}
		// The test's own and its subtests': a subtest runs inside its
		// parent's window.
		groups := lc.GroupsWithLabel(labelKey, func(v string) bool { return nested(label, v) })
		if len(groups) == 0 {
			return nil, nil
		}
		if now.freshKnown {
			// Exact by ID; the label's groups pick this test's.
			return gostack.NewSince(groups, now.fresh), nil
		}
		if err := now.takeDump(); err != nil {
			return nil, err
		}
		candidates := gostack.NewSince(groups, now.dump)
		if base != nil && base.ids != nil {
			candidates = gostack.NewSinceIDs(base.ids, candidates)
		}
		return candidates, nil
	case now.freshKnown:
		return now.fresh, nil
	case none:
		if err := now.takeDump(); err != nil {
			return nil, err
		}
		return now.dump, nil
	case now.ids != nil && now.dump != nil:
		// Two full snapshots (Compare): the IDs say it all.
		return gostack.NewSinceIDs(base.ids, now.dump), nil
	}
	if base.hasCreated && now.hasCreated && now.created == base.created {
		return nil, nil // no goroutine was created since the baseline
	}
	if base.census != nil && now.census != nil {
		if !now.census.Grew(base.census) {
			return nil, nil
		}
	} else if !hasNewID(base.ids, gostack.IDs()) {
		return nil, nil
	}
	if err := now.takeDump(); err != nil {
		return nil, err
	}
	return gostack.NewSinceIDs(base.ids, now.dump), nil
}

// hasNewID reports whether now (sorted) holds an ID that base (sorted) does not.
func hasNewID(base, now []uint64) bool {
	i := 0
	for _, id := range now {
		for i < len(base) && base[i] < id {
			i++
		}
		if i == len(base) || base[i] != id {
			return true
		}
	}
	return false
}
