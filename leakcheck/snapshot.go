package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/sockstate"
)

// Thread is an OS thread of the checked process.
type Thread struct {
	TID  int
	Name string // from /proc/PID/task/TID/comm, at most 15 bytes
}

// String renders "thread 4121 JRaft-RPC-Proc".
func (t Thread) String() string { return fmt.Sprintf("thread %d %s", t.TID, t.Name) }

// Snapshot is what a process held at one moment: the baseline a check
// compares against. Take one with Take; a Snapshot is not safe to modify.
type Snapshot struct {
	PID        int                 // the process it describes
	Time       time.Time           // when it was taken
	Goroutines []Goroutine         // every goroutine, from Take (a baseline inside Check records IDs only)
	FDs        *fdsnap.Snapshot    // nil when not collected
	Sockets    *sockstate.Snapshot // the sockets behind FDs, from Take; nil when not collected
	Threads    []Thread

	resources   Resource // what was collected
	unsupported map[Resource]error
	goroutines  *goroutineState // the collector's own view, for cheap comparisons
	runtimeFDs  []fdsnap.FD
	// unnamedThreads are the names of threads that never named themselves
	// (a baseline's): new ones are the runtime's, not a leak.
	unnamedThreads map[string]bool
	socketsByInode map[uint64]sockstate.Socket // described on demand, kept
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
	cfg := newConfig(opts)
	if err := cfg.err(); err != nil {
		return nil, err
	}
	return take(cfg, fullLook)
}

func (c *config) err() error {
	if len(c.misuse) == 0 {
		return nil
	}
	return fmt.Errorf("leakcheck: %s", joinLines(c.misuse))
}

// runtimeFDs returns the Go runtime's descriptors, found once: the runtime
// never closes them (see fdsnap.RuntimeFDs). The first call also makes the
// runtime create its netpoller, before any baseline is taken.
var runtimeFDs = sync.OnceValues(fdsnap.RuntimeFDs)

// A look is what a snapshot is for, which decides what it costs.
type look uint8

const (
	baselineLook look = iota // a baseline: exact goroutine IDs, no details
	pollLook                 // a settle poll: the cheapest that finds what is new
	describeLook             // the verdict: full stacks and fdinfo for the report
	fullLook                 // Take's: a baseline with every goroutine and socket described
)

// take collects one snapshot.
func take(cfg *config, l look) (*Snapshot, error) {
	describe := l == describeLook
	baseline := l == baselineLook || l == fullLook
	s := &Snapshot{PID: cfg.pid, Time: time.Now(), resources: cfg.resources}
	if s.PID == 0 {
		s.PID = os.Getpid()
	}
	unsupported := func(r Resource, err error) bool {
		if errors.Is(err, errors.ErrUnsupported) {
			if s.unsupported == nil {
				s.unsupported = make(map[Resource]error)
			}
			s.unsupported[r] = err
			return true
		}
		return false
	}
	if cfg.resources&Goroutines != 0 && cfg.pid == 0 {
		g, err := takeGoroutines(baseline, describe || l == fullLook)
		if err != nil && !unsupported(Goroutines, err) {
			return nil, fmt.Errorf("leakcheck: goroutines: %w", err)
		}
		s.goroutines = g
	}
	if cfg.resources&(FDs|Sockets) != 0 {
		if cfg.pid == 0 {
			rt, err := runtimeFDs()
			if err == nil {
				s.runtimeFDs = rt
			}
		}
		var fopts []fdsnap.Option
		if describe {
			fopts = append(fopts, fdsnap.WithDetail())
		}
		var fds *fdsnap.Snapshot
		var err error
		if cfg.pid == 0 {
			fds, err = fdsnap.Take(fopts...)
		} else {
			fds, err = fdsnap.TakePID(cfg.pid, fopts...)
		}
		switch {
		case err == nil:
			s.FDs = fds
		case unsupported(cfg.resources&(FDs|Sockets), err):
		default:
			return nil, targetErr(cfg.pid, err)
		}
	}
	if l == fullLook && s.FDs != nil && cfg.resources&Sockets != 0 {
		var err error
		if cfg.pid == 0 {
			s.Sockets, err = sockstate.Take(sockstate.WithFDs(s.FDs))
		} else {
			s.Sockets, err = sockstate.TakePID(cfg.pid, sockstate.WithFDs(s.FDs))
		}
		if err != nil && !unsupported(Sockets, err) {
			return nil, targetErr(cfg.pid, err)
		}
	}
	if cfg.resources&Threads != 0 {
		if baseline {
			s.unnamedThreads = unnamedThreadNames(cfg.pid)
		}
		ts, err := threads.List(cfg.pid)
		switch {
		case err == nil:
			s.Threads = make([]Thread, len(ts))
			for i, t := range ts {
				s.Threads[i] = Thread{TID: t.TID, Name: t.Name}
			}
		case unsupported(Threads, err):
		default:
			return nil, targetErr(cfg.pid, err)
		}
	}
	if s.goroutines != nil {
		s.Goroutines = s.goroutines.public()
	}
	return s, nil
}

// targetErr names the target in a collector's error, and marks a target
// that exited so checks can say so instead of reporting a pass.
func targetErr(pid int, err error) error {
	if pid != 0 && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("leakcheck: target pid %d exited during the check: %w", pid, err)
	}
	return fmt.Errorf("leakcheck: %w", err)
}
