package leakcheck

import (
	"fmt"
	"strings"
)

// Resource is a kind of thing a process can leak. Values combine as a set:
// WithResources(Goroutines | FDs).
type Resource uint8

// The resources leakcheck checks; all of them unless WithResources says
// otherwise.
const (
	Goroutines Resource = 1 << iota // goroutines of the current process
	FDs                             // file descriptors other than sockets
	Sockets                         // socket descriptors, described by protocol, state and addresses
	Threads                         // OS threads
	Processes                       // child processes: running, stopped, or exited and never waited
	Heap                            // live heap bytes, measured by Cycle and Soak across rounds (not by a single check)

	AllResources = Goroutines | FDs | Sockets | Threads | Processes | Heap
)

// kinds is every resource kind, in report order. A kind is everything
// leakcheck knows about one resource; the settle loop, the diff, the
// report, cycles and soaks iterate over this list and never name a kind.
var kinds = []kind{goroutineKind{}, fdKind{}, socketKind{}, threadKind{}, processKind{}, heapKind{}}

// A kind collects one resource of a target, tells what is new by identity,
// filters what is never a leak, counts and describes it.
type kind interface {
	resource() Resource
	// names names the resource, one and many: "fd", "fds" (the plural
	// is Resource.String and the key of Report.Counts).
	names() (one, many string)
	// itemNouns name one item, as items print ("fd 12 …", "child process
	// 42 …"), and several.
	itemNouns() (one, many string)
	goName() string // the constant's name: "FDs"

	// collect adds the kind's view of the target to s, for the look l.
	// An error wrapping errors.ErrUnsupported leaves the kind out of s
	// and is reported as "not checked".
	collect(s *Snapshot, l look) error
	// collected reports whether s holds the kind's view.
	collected(s *Snapshot) bool
	// diff returns what now holds that base did not, by identity, less
	// what the default and the user's filters drop (counted in d).
	diff(d *diffing, base, now *Snapshot) ([]Item, error)
	// count adds the kind's per-category counts in s to m: the total under
	// the kind's name, each group under "name/group".
	count(s *Snapshot, m map[string]int)
	// details renders the full picture behind leaked items, for artifacts.
	details(base, now *Snapshot, items []Item) string
}

// Optional kind behaviour.
type (
	// processWide kinds belong to the whole process: overlapping tests
	// cannot tell whose they are (goroutines can, by label).
	processWide interface{ processWide() }
	// selfOnly kinds exist only in the current process (goroutines).
	selfOnly interface{ selfOnly() }
	// countFirst kinds print a group as "3 × key" rather than "key (3):".
	countFirst interface{ countFirst() }
	// costPart kinds are counted as part of another kind's total in a
	// cycle's cost line (sockets are descriptors too).
	costPart interface{ costOf() Resource }
	// tallier kinds offer a per-iteration total for soaks, cheaper than a
	// look: every descriptor, with one system call.
	tallier interface {
		tally(t target) (int, error)
		tallyKey() string      // "all fds"
		tallyCovers() Resource // the resources the total counts
	}
	// finalizerLeak kinds leak even when a finalizer frees them: a
	// descriptor only the garbage collector closed was never closed by
	// the code (goroutines a finalizer stops are not leaks).
	finalizerLeak interface{ finalizerLeak() }
	// judge kinds leave some soak categories out of the verdict (the Go
	// runtime's own threads come and go with load).
	judge interface {
		judged(key string, base *Snapshot) bool
	}
)

// kindOf returns the kind of a single resource.
func kindOf(r Resource) kind {
	for _, k := range kinds {
		if k.resource() == r {
			return k
		}
	}
	return nil
}

// name returns the kind's name, as Resource.String and report keys spell it.
func name(k kind) string {
	_, many := k.names()
	return many
}

// String names the resources in the set: "goroutines", "fds|sockets".
func (r Resource) String() string {
	var parts []string
	for _, k := range kinds {
		if r&k.resource() != 0 {
			parts = append(parts, name(k))
			r &^= k.resource()
		}
	}
	if r != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("Resource(%#x)", uint8(r)))
	}
	return strings.Join(parts, "|")
}

// each calls f for every single resource in r, in report order.
func (r Resource) each(f func(Resource)) {
	for _, k := range kinds {
		if r&k.resource() != 0 {
			f(k.resource())
		}
	}
}

// resourceNames lists the resources for a misuse message.
func resourceNames() string {
	var parts []string
	for _, k := range kinds {
		parts = append(parts, k.goName())
	}
	return strings.Join(parts, ", ")
}
