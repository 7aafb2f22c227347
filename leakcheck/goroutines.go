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

// newGoroutines returns the goroutines of now that are not in base and not
// the runtime's or the testing framework's, and how many of those it left
// out. With none, base is ignored: every goroutine but the caller's counts
// (goleak's VerifyNone). With a label, only goroutines carrying that test's
// label are candidates (parallel attribution).
func newGoroutines(base, now *goroutineState, none bool, label string) ([]*goroutine, int, error) {
	var candidates []gostack.Goroutine
	switch {
	case label != "":
		lc, err := gostack.TakeLabeledCensus()
		if err != nil {
			return nil, 0, err
		}
		groups := lc.GroupsWithLabel(labelKey, label)
		if len(groups) == 0 {
			return nil, 0, nil
		}
		if err := now.takeDump(); err != nil {
			return nil, 0, err
		}
		candidates = gostack.NewSince(groups, now.dump)
		if base != nil && base.ids != nil {
			candidates = gostack.NewSinceIDs(base.ids, candidates)
		}
	case none:
		if err := now.takeDump(); err != nil {
			return nil, 0, err
		}
		candidates = now.dump
	case now.ids != nil && now.dump != nil:
		// Two full snapshots (Compare): the IDs say it all.
		candidates = gostack.NewSinceIDs(base.ids, now.dump)
	default:
		if base.hasCreated && now.hasCreated && now.created == base.created {
			return nil, 0, nil // no goroutine was created since the baseline
		}
		if base.census != nil && now.census != nil {
			if !now.census.Grew(base.census) {
				return nil, 0, nil
			}
		} else if !hasNewID(base.ids, gostack.IDs()) {
			return nil, 0, nil
		}
		if err := now.takeDump(); err != nil {
			return nil, 0, err
		}
		candidates = gostack.NewSinceIDs(base.ids, now.dump)
	}
	var out []*goroutine
	ignored := 0
	// The goroutine running the check is the caller's, not a leak (the one
	// that took the baseline is in the baseline). Only asked when there
	// are candidates: it costs a stack trace.
	var self uint64
	if len(candidates) > 0 {
		self = gostack.CurrentID()
	}
	for i := range candidates {
		g := &candidates[i]
		switch {
		case g.ID == self:
		case gostack.RuntimeOwned(*g):
			ignored++
		default:
			out = append(out, g)
		}
	}
	return out, ignored, nil
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

// currentGoroutineIDs returns the IDs of every goroutine now, for IgnoreCurrent.
func currentGoroutineIDs() (map[uint64]bool, error) {
	d, err := gostack.All()
	if err != nil {
		return nil, err
	}
	ids := make(map[uint64]bool, len(d))
	for _, g := range d {
		ids[g.ID] = true
	}
	return ids, nil
}

// goroutineCategory groups leaked goroutines by where they are blocked and
// what started them.
func goroutineCategory(gs []*goroutine) Category {
	c := Category{Resource: Goroutines}
	byKey := map[string]*Group{}
	var keys []string
	sort.Slice(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
	for _, g := range gs {
		key := fmt.Sprintf("%s [%s]", g.TopFunction(), g.State)
		if cb := g.CreatedBy(); cb != "" {
			key += ", created by " + cb
		}
		grp := byKey[key]
		if grp == nil {
			grp = &Group{Key: key}
			byKey[key] = grp
			keys = append(keys, key)
		}
		grp.Items = append(grp.Items, goroutineItem(g))
	}
	for _, k := range keys {
		c.Groups = append(c.Groups, *byKey[k])
	}
	sortGroups(c.Groups)
	return c
}

// goroutineItem renders one goroutine of a group: its ID, how long it has
// waited, and where it is blocked.
func goroutineItem(g *goroutine) string {
	s := fmt.Sprintf("goroutine %d [%s", g.ID, g.State)
	if g.Wait > 0 {
		s += ", " + g.Wait.String()
	}
	s += "]"
	if len(g.Frames) > 0 && g.Frames[0].File != "" {
		s += fmt.Sprintf(" at %s:%d", g.Frames[0].File, g.Frames[0].Line)
	}
	return s
}

// stacks renders the full stacks of leaked goroutines for artifacts.
func stacks(gs []*goroutine) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(g.Raw)
		b.WriteString("\n\n")
	}
	return b.String()
}
