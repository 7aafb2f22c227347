package gostack

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// stackBufSize remembers how large the last full dump was, so the next one
// usually needs a single runtime.Stack call.
var (
	stackBufMu   sync.Mutex
	stackBufSize = 64 << 10
)

// dump returns runtime.Stack(all=true) as a string. runtime.Stack stops the
// world while it prints, for every goroutine: this is the expensive path.
func dump() string {
	stackBufMu.Lock()
	size := stackBufSize
	stackBufMu.Unlock()
	for {
		buf := make([]byte, size)
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			stackBufMu.Lock()
			if n+n/4 > stackBufSize {
				stackBufSize = n + n/4
			}
			stackBufMu.Unlock()
			// The buffer is not reused, so the string can share it.
			return string(buf[:n])
		}
		size *= 2
	}
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

// NewSince returns the goroutines of dump that account for the growth a
// census reported: for each group, up to Group.Count goroutines that match
// it (Group.Matches), taken newest first (highest ID), each goroutine at
// most once. The result is sorted by ID.
//
// When labels were printed in the dump (Go 1.26 with
// GODEBUG=tracebacklabels=1, Go 1.27) and the census was labeled, a
// goroutine must carry the group's labels too, and the pick is exact for
// goroutines that carry a label no baseline goroutine had. Otherwise, when
// a group grew from k to k+d goroutines, the d newest are reported: IDs are
// handed out in increasing order (in batches of 16 per P), so these are the
// goroutines created last, and their stacks are identical to the k older
// ones by construction; only the ID printed may differ.
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
