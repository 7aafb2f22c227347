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
