package gostack

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// stackPerG remembers the bytes per goroutine of the last full dump, so the
// next one usually needs a single runtime.Stack call.
var (
	stackPerGMu sync.Mutex
	stackPerG   int
)

// dump returns runtime.Stack(all=true) as a string. runtime.Stack stops the
// world while it prints, for every goroutine: this is the expensive path.
func dump() string {
	stackPerGMu.Lock()
	per := stackPerG
	stackPerGMu.Unlock()
	buf, n := takeStack(nil, per)
	if g := runtime.NumGoroutine(); g > 0 {
		stackPerGMu.Lock()
		stackPerG = n/g + 1
		stackPerGMu.Unlock()
	}
	if n == 0 {
		return ""
	}
	// Nothing writes to buf again, so the string shares it: one dump's
	// worth of memory, not two.
	return unsafe.String(&buf[0], n)
}

// All returns every goroutine of the current process, the caller's own
// included, from a full text dump (see the package doc for its cost).
func All() ([]Goroutine, error) {
	gs, err := parseString(dump())
	if err != nil {
		// runtime.Stack output that does not parse is a bug here, or a
		// runtime format this package does not know yet.
		return nil, fmt.Errorf("gostack: parse this process's goroutine dump (%s): %w", runtime.Version(), err)
	}
	return gs, nil
}

// CurrentID returns the ID of the calling goroutine, read from the header of
// its own stack trace (a few microseconds).
func CurrentID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s := strings.TrimPrefix(string(buf[:n]), "goroutine ")
	if i := strings.IndexByte(s, ' '); i > 0 {
		if id, err := strconv.ParseUint(s[:i], 10, 64); err == nil {
			return id
		}
	}
	panic("gostack: cannot read the current goroutine's ID from runtime.Stack: " + string(buf[:n]))
}

// IDs returns the IDs of every goroutine of the current process, the
// caller's included, sorted. It takes the same stop-the-world dump as All
// but reads only the header lines, into a buffer it keeps for the next call
// (until two collections pass it unused), so repeated calls with the
// collector paused do not pile up dumps. See Dumper for a buffer the caller
// owns.
func IDs() []uint64 {
	d := idsDumper.Get().(*Dumper)
	defer idsDumper.Put(d)
	d.Take()
	return d.IDs(nil)
}

var idsDumper = sync.Pool{New: func() any { return new(Dumper) }}

// PooledDumper returns the Dumper IDs uses, out of its pool, and the func
// that puts it back: a caller that dumps right after IDs (a check after its
// baseline) reuses the buffer IDs sized, instead of holding a second one.
func PooledDumper() (*Dumper, func()) {
	d := idsDumper.Get().(*Dumper)
	return d, func() {
		d.prev, d.next = nil, nil // what NewSince parsed is the caller's
		idsDumper.Put(d)
	}
}

// NewSinceIDs returns the goroutines of dump whose ID is not in base (a
// sorted list from IDs), sorted by ID: the exact answer to "what is new",
// by identity.
func NewSinceIDs(base []uint64, dump []Goroutine) []Goroutine {
	var out []Goroutine
	for _, g := range dump {
		if _, found := slices.BinarySearch(base, g.ID); !found {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// NewSince returns the goroutines of dump that account for the growth a
// census reported: for each group, up to Group.Count goroutines that match
// it (Group.Matches), each goroutine at most once, sorted by ID.
//
// The pick is exact for a group whose stack (and labels, from a labeled
// census compared with a dump that prints labels: Go 1.26 with
// GODEBUG=tracebacklabels=1, Go 1.27) did not exist at the baseline, which
// is the usual shape of a leak, and for goroutines carrying a label no
// baseline goroutine had. When a stack grew from k > 0 to k+d goroutines,
// the census cannot say which d are new: NewSince takes the d with the
// highest IDs, which can name a pre-existing twin instead (IDs come from
// per-P batches of 16, so ID order is not creation order). The stacks are
// identical either way; only the IDs may be off. For exact identity there,
// take a baseline with IDs and use NewSinceIDs.
func NewSince(growth []Group, dump []Goroutine) []Goroutine {
	byID := make([]int, len(dump))
	for i := range byID {
		byID[i] = i
	}
	sort.Slice(byID, func(a, b int) bool { return dump[byID[a]].ID > dump[byID[b]].ID })
	used := make([]bool, len(dump))
	var out []Goroutine
	for _, grp := range growth {
		want := grp.Count
		for _, i := range byID {
			if want == 0 {
				break
			}
			if used[i] || !grp.Matches(dump[i]) {
				continue
			}
			used[i] = true
			out = append(out, dump[i])
			want--
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}
