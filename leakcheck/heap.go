package leakcheck

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/leakcheck/go/internal/gostack"
	"github.com/leakcheck/go/internal/heapdiff"
)

// heapKind is the live heap. One allocation is not a leak, so a single
// check never looks at it: Cycle, CycleAll and Soak measure it across
// rounds (internal/heapdiff), after the other kinds, since the collections
// it forces run finalizers that would close a leaked file.
type heapKind struct{}

func (heapKind) resource() Resource                                  { return Heap }
func (heapKind) names() (string, string)                             { return "heap", "heap" }
func (heapKind) itemNouns() (string, string)                         { return "site", "sites" }
func (heapKind) goName() string                                      { return "Heap" }
func (heapKind) selfOnly()                                           {}
func (heapKind) collected(*Snapshot) bool                            { return false }
func (heapKind) collect(*Snapshot, look) error                       { return nil }
func (heapKind) diff(*diffing, *Snapshot, *Snapshot) ([]Item, error) { return nil, nil }
func (heapKind) count(*Snapshot, map[string]int)                     {}
func (heapKind) details(*Snapshot, *Snapshot, []Item) string         { return "" }

// heapUser tells the user's code in an allocation stack.
func heapUser(f runtime.Frame) bool {
	g := gostack.Frame{Func: f.Function, File: f.File, Line: f.Line}
	if isOwn(f.Function) || strings.HasPrefix(f.Function, "testing.") {
		return false
	}
	return !isStd(g)
}

// heapRounds measures what rounds of n create/destroy cycles retain on the
// heap: round runs n creates then every destroy.
func heapRounds(cfg *config, n int, round func() error) (*heapdiff.Result, error) {
	hc := heapdiff.Defaults()
	hc.User = heapUser
	if cfg.heapTolerance > 0 {
		hc.Tolerance = cfg.heapTolerance
	}
	res, err := heapdiff.Run(n, round, hc)
	if err != nil {
		return nil, fmt.Errorf("leakcheck: heap: %w", err)
	}
	return res, nil
}

// WithHeapTolerance sets the live heap, in bytes per cycle (per iteration
// in a soak), that Cycle and Soak let pass (16 by default, on top of a
// small slack per round for what the runtime keeps on its own).
func WithHeapTolerance(bytesPerCycle float64) Option {
	return option{fmt.Sprintf("WithHeapTolerance(%v)", bytesPerCycle), inCycle | inSoak, func(c *config) {
		if bytesPerCycle <= 0 {
			c.misusef("WithHeapTolerance(%v): want bytes > 0", bytesPerCycle)
			return
		}
		c.heapTolerance = bytesPerCycle
	}}
}

// heapMeter measures the live heap of a soak: after collections, at the
// end of the warm-up and at the end of each of three segments of the rest.
// The heap grew when every segment retained more than the tolerance per
// iteration (and the slack): the soak's form of a cycle's rounds. Samples
// carry the live heap too, as of the last collection, for the table and
// the plot (not judged).
type heapMeter struct {
	tolerance float64
	slack     int64
	warmup    float64
	marks     []heapMark
	// own estimates, from above, what the soak itself keeps on the heap
	// (its samples): taken off each segment's growth.
	own int64
}

type heapMark struct {
	iter  int
	bytes int64
	own   int64
}

const heapSegments = 3

func newHeapMeter(cfg *config, warmup float64) *heapMeter {
	d := heapdiff.Defaults()
	m := &heapMeter{tolerance: d.Tolerance, slack: d.Slack, warmup: warmup}
	if cfg.heapTolerance > 0 {
		m.tolerance = cfg.heapTolerance
	}
	return m
}

// sample adds the live heap as of the last collection to a soak's sample.
func (m *heapMeter) sample(c map[string]int) {
	c[name(heapKind{})] = int(heapdiff.Read().Bytes)
	// A sample is a map of string keys to ints: its buckets, keys and
	// headers, counted generously.
	m.own += 128
	for k := range c {
		m.own += int64(len(k)) + 64
	}
}

// tally counts a per-iteration total the soak kept (three float64s).
func (m *heapMeter) tally() { m.own += 32 }

// step is called after iteration iter, progress the share of the soak
// done (0 to 1): it measures at each boundary crossed.
func (m *heapMeter) step(iter int, progress float64) {
	next := m.warmup + float64(len(m.marks))*(1-m.warmup)/heapSegments
	if len(m.marks) < heapSegments && progress >= next-1e-9 {
		m.marks = append(m.marks, heapMark{iter, int64(heapdiff.Measure().Bytes), m.own})
	}
}

// finish takes the last measurement, after the soak's last iteration.
func (m *heapMeter) finish(iter int) {
	if len(m.marks) == heapSegments && iter > m.marks[len(m.marks)-1].iter {
		m.marks = append(m.marks, heapMark{iter, int64(heapdiff.Measure().Bytes), m.own})
	}
}

// growth returns the heap's Growth, and whether it grew beyond the
// tolerance in every segment.
func (m *heapMeter) growth() (Growth, bool) {
	if len(m.marks) < 2 {
		return Growth{}, false
	}
	first, last := m.marks[0], m.marks[len(m.marks)-1]
	g := Growth{Key: name(heapKind{}), Start: int(first.bytes), End: int(last.bytes)}
	for _, mk := range m.marks {
		g.Max = max(g.Max, int(mk.bytes))
	}
	if last.iter > first.iter {
		g.PerIteration = float64(last.bytes-first.bytes) / float64(last.iter-first.iter)
	}
	grew := true
	for i := 1; i < len(m.marks); i++ {
		n := m.marks[i].iter - m.marks[i-1].iter
		kept := m.marks[i].bytes - m.marks[i-1].bytes - (m.marks[i].own - m.marks[i-1].own)
		if n <= 0 || !heapdiff.Retains([]int64{kept}, n, m.tolerance, m.slack) {
			grew = false
		}
	}
	return g, grew && len(m.marks) == heapSegments+1
}
