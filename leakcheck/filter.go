package leakcheck

import "sort"

// A filter drops what is never a leak. What it drops is counted under its
// name in the report's "ignored" note, so nothing is left out silently:
// the default filters (the runtime's descriptors, the testing framework's
// goroutines, …) and the user's (IgnoreFD, IgnoreTopFunction, …) alike.
type filter[T any] struct {
	name string // "runtime fds": the note reads "3 runtime fds ignored"
	drop func(T) bool
}

// diffing is what one comparison of two snapshots needs besides them.
type diffing struct {
	cfg *config
	// none: the baseline is the initial snapshot and goroutines have
	// goleak's meaning of "none" (every goroutine but the caller's).
	none bool
	// label, when set, attributes goroutines by the pprof label leakcheck
	// put on the checked test's goroutine instead of by ID.
	label   string
	test    string // the checking test's name, when a test checks
	ignored map[string]int
	notes   []string // what a kind could not do, for the report's notes
}

func newDiffing(cfg *config, none bool, label string) *diffing {
	return &diffing{cfg: cfg, none: none, label: label, test: cfg.test, ignored: map[string]int{}}
}

// keep returns the xs no filter drops, counting the dropped under the
// filter's name. xs is reused.
func keep[T any](d *diffing, xs []T, filters ...[]filter[T]) []T {
	out := xs[:0]
next:
	for _, x := range xs {
		for _, fs := range filters {
			for _, f := range fs {
				if f.drop(x) {
					if d != nil && f.name != "" {
						d.ignored[f.name]++
					}
					continue next
				}
			}
		}
		out = append(out, x)
	}
	return out
}

// ignoredList returns the counts, sorted by name.
func (d *diffing) ignoredList() []Ignored {
	var out []Ignored
	for what, n := range d.ignored {
		out = append(out, Ignored{What: what, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].What < out[j].What })
	return out
}
