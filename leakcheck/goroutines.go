package leakcheck

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strings"
	"sync"

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

func (goroutineKind) diff(d *diffing, base, now *Snapshot) ([]Item, error) {
	if now.goroutines == nil || (!d.none && base.goroutines == nil) {
		return nil, nil
	}
	var baseState *goroutineState
	if !d.none {
		baseState = base.goroutines
	}
	candidates, err := newGoroutines(baseState, now.goroutines, d.none, d.label)
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
	gs = keep(d, gs, []filter[*goroutine]{caller, runtimeGoroutines}, d.cfg.goroutineFilters)
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
// compares goroutine IDs directly (a header-only dump costs tens of
// microseconds at this size). Above it, a check first compares censuses of
// stacks (runtime.GoroutineProfile, no stop-the-world text dump) and takes
// the dump only when the census grew.
const smallGoroutineCount = 1000

// goroutineState is a snapshot's view of the goroutines: the exact set of
// IDs for a baseline, and whatever is cheapest for a later look.
type goroutineState struct {
	created    uint64 // goroutines created since the process started (Go ≥ 1.26)
	hasCreated bool
	census     *gostack.Census     // taken when the process has many goroutines
	ids        []uint64            // sorted; taken for a baseline, or lazily
	dump       []gostack.Goroutine // taken when needed
}

func takeGoroutines(baseline, describe bool) (*goroutineState, error) {
	s := &goroutineState{}
	s.created, s.hasCreated = goroutinesCreated()
	if runtime.NumGoroutine() > smallGoroutineCount {
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

// newGoroutines returns the goroutines of now that are not in base. With
// none, base is ignored: every goroutine counts (goleak's VerifyNone). With
// a label, only goroutines carrying that test's label are candidates
// (parallel attribution).
func newGoroutines(base, now *goroutineState, none bool, label string) ([]gostack.Goroutine, error) {
	switch {
	case label != "":
		lc, err := gostack.TakeLabeledCensus()
		if err != nil {
			return nil, err
		}
		groups := lc.GroupsWithLabel(labelKey, label)
		if len(groups) == 0 {
			return nil, nil
		}
		if err := now.takeDump(); err != nil {
			return nil, err
		}
		candidates := gostack.NewSince(groups, now.dump)
		if base != nil && base.ids != nil {
			candidates = gostack.NewSinceIDs(base.ids, candidates)
		}
		return candidates, nil
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
