package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/sockstate"
)

// Snapshot is what a process held at one moment: the baseline a check
// compares against. Take one with Take; a Snapshot is not safe to modify.
type Snapshot struct {
	PID        int                 // the process it describes
	Time       time.Time           // when it was taken
	Goroutines []Goroutine         // every goroutine, from Take (a baseline inside Check records IDs only)
	FDs        *fdsnap.Snapshot    // nil when not collected
	Sockets    *sockstate.Snapshot // the sockets behind FDs, from Take; nil when not collected
	Threads    []Thread
	Processes  []Process // the child processes, nil when not collected

	target      target
	look        look
	since       *Snapshot     // the baseline a poll is compared with, for cheaper looks
	settle      *settleState  // a settling check's looks: what it keeps between them
	took        time.Duration // how long the look took
	resources   Resource      // what was collected
	unsupported map[Resource]error
	// failed holds what a look after the baseline could not read (a full
	// descriptor table): the report says so and shows the rest.
	failed map[Resource]error

	goroutines     *goroutineState // the collector's own view, for cheap comparisons
	goroutineCount int             // a sample's count
	runtimeFDs     []fdsnap.FD
	// unnamedThreads are the names of threads that never named themselves
	// (a baseline's): new ones are the runtime's, not a leak.
	unnamedThreads map[string]bool
	socketsByInode map[uint64]sockstate.Socket // described on demand, kept
	socketClasses  map[sockstate.Class]int     // a sample's counts
	childPidfds    map[int]int                 // pidfd number → the child's pid, at a verdict
}

// Take snapshots the resources the options select (all by default) of the
// current process, or of the process WithPID names. Resources this platform
// cannot collect are left out and recorded, not an error: Find reports them
// as unchecked. Before it looks, Take makes the Go runtime create the
// descriptors it creates lazily (the netpoller), so that a test's first
// network use does not look like a leak. Snapshot.Goroutines lists every
// goroutine and Snapshot.Sockets every socket (a full stack dump and a
// socket snapshot, which Check's own baselines skip).
func Take(opts ...Option) (*Snapshot, error) {
	cfg := newConfig(inTake, opts)
	if err := cfg.err(); err != nil {
		return nil, err
	}
	return take(cfg, fullLook)
}

// Counts returns what the snapshot holds per resource and per group, keyed
// as Report.Counts is ("fds", "fds/eventfd", "sockets/tcp LISTEN",
// "threads/worker", "goroutines", "processes/sleep 20"): the totals of
// every resource it holds, then each group's count.
func (s *Snapshot) Counts() map[string]int {
	m := make(map[string]int)
	have := s.collected()
	for _, k := range kinds {
		if have&k.resource() != 0 && k.collected(s) {
			m[name(k)] += 0
			k.count(s, m)
		}
	}
	return m
}

// A look is what a snapshot is for, which decides what it costs.
type look uint8

const (
	baselineLook look = iota // a baseline: exact goroutine IDs, no details
	pollLook                 // a settle poll: the cheapest that finds what is new
	describeLook             // the verdict: full stacks and fdinfo for the report
	fullLook                 // Take's: a baseline with every goroutine and socket described
	sampleLook               // a soak's sample: counts only
)

// baseline reports whether the look is one a later look is compared with.
func (l look) baseline() bool { return l == baselineLook || l == fullLook }

// detailed reports whether the look describes what it finds for a report.
func (l look) detailed() bool { return l == describeLook || l == fullLook }

// take collects one snapshot: every kind cfg selects, in report order.
func take(cfg *config, l look) (*Snapshot, error) { return takeSince(cfg, l, nil) }

// takeSince is take for a look that will be compared with base, which
// kinds may use to look more cheaply where nothing changed.
func takeSince(cfg *config, l look, base *Snapshot) (*Snapshot, error) {
	t := cfg.target
	if l.baseline() && t.self && !cfg.initial {
		// Origins are recorded from the first baseline on (before it is
		// taken, so the tracer's own descriptors are part of it).
		startOrigins()
	}
	s := &Snapshot{PID: t.pid, Time: time.Now(), target: t, look: l, resources: cfg.resources, since: base, settle: cfg.settle}
	defer func() { s.took = time.Since(s.Time) }()
	for _, k := range kinds {
		r := k.resource()
		if cfg.resources&r == 0 {
			continue
		}
		if _, ok := k.(selfOnly); ok && !t.self {
			continue
		}
		err := k.collect(s, l)
		switch {
		case err == nil:
		case errors.Is(err, errors.ErrUnsupported):
			if s.unsupported == nil {
				s.unsupported = make(map[Resource]error)
			}
			s.unsupported[r] = err
		case (l == pollLook || l == describeLook) && !(errors.Is(err, os.ErrNotExist) && !t.self):
			// A look after the baseline reads what it can: the verdict
			// reports it, and why the rest could not be read (a
			// descriptor table full to its limit leaves no descriptor to
			// read /proc or to open a netlink socket with). A look with a
			// failure is never clean.
			if s.failed == nil {
				s.failed = make(map[Resource]error)
			}
			s.failed[r] = err
		default:
			return nil, fmt.Errorf("leakcheck: %s: %w", name(k), t.err(err))
		}
	}
	return s, nil
}

// collected returns the resources the snapshot holds: those Take recorded,
// or for a snapshot built by hand, those whose fields are set.
func (s *Snapshot) collected() Resource {
	if s.resources != 0 {
		var r Resource
		for _, k := range kinds {
			if s.resources&k.resource() != 0 && s.unsupported[k.resource()] == nil {
				r |= k.resource()
			}
		}
		return r
	}
	var r Resource
	for _, k := range kinds {
		if k.collected(s) {
			r |= k.resource()
		}
	}
	return r
}

// The initial snapshot is taken when package leakcheck is initialised:
// what "none" means for descriptors, sockets, threads and processes.
var initial struct {
	once sync.Once
	snap *Snapshot
	err  error
}

func initialSnapshot() (*Snapshot, error) {
	initial.once.Do(func() {
		cfg := &config{resources: AllResources &^ Goroutines, target: selfTarget(), initial: true}
		initial.snap, initial.err = take(cfg, baselineLook)
		if initial.err == nil {
			initial.snap.resources = AllResources
		}
	})
	return initial.snap, initial.err
}
