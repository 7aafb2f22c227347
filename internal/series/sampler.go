package series

import (
	"fmt"
	"runtime"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/sockstate"
)

// The totals every sample holds; categories are "<total>/<name>".
const (
	FDs        = "fds"
	Sockets    = "sockets"
	Threads    = "threads"
	Goroutines = "goroutines"
)

// Counts is one sample: a count per category key ("fds", "fds/eventfd",
// "sockets/tcp CLOSE_WAIT", "threads/worker", "goroutines").
type Counts map[string]int

// Sampler takes cheap samples of one process's resource counts.
type Sampler struct {
	PID        int  // the process sampled; 0 for the current one
	Goroutines bool // also count goroutines; only for the current process
}

// Sample counts the process's descriptors by kind, its sockets by protocol
// and state, and its threads by name. A process that does not exist (or
// exits meanwhile) gives an error wrapping os.ErrNotExist; one this user may
// not inspect, os.ErrPermission; another platform, errors.ErrUnsupported.
func (s Sampler) Sample() (Counts, error) {
	if s.PID < 0 {
		return nil, fmt.Errorf("series: pid %d: want a process id, or 0 for the current process", s.PID)
	}
	if s.Goroutines && s.PID != 0 {
		return nil, fmt.Errorf("series: goroutines can only be counted in the current process, not pid %d", s.PID)
	}
	var (
		fds *fdsnap.Snapshot
		err error
	)
	if s.PID == 0 {
		fds, err = fdsnap.Take()
	} else {
		fds, err = fdsnap.TakePID(s.PID)
	}
	if err != nil {
		return nil, err
	}
	var socks map[sockstate.Class]int
	if s.PID == 0 {
		socks, err = sockstate.Count(sockstate.WithFDs(fds))
	} else {
		socks, err = sockstate.CountPID(s.PID, sockstate.WithFDs(fds))
	}
	if err != nil {
		return nil, err
	}
	ts, err := threads.List(s.PID)
	if err != nil {
		return nil, err
	}
	c := CountsOf(fds, socks, ts)
	if s.Goroutines {
		c[Goroutines] = runtime.NumGoroutine()
	}
	return c, nil
}

// CountsOf counts what full snapshots hold, with the keys Sample uses:
// descriptors other than sockets by kind, sockets by class (as
// sockstate's Count or Snapshot.Counts give them), threads by name. The
// totals are always present.
func CountsOf(fds *fdsnap.Snapshot, sockets map[sockstate.Class]int, ts []threads.Thread) Counts {
	c := Counts{FDs: 0, Sockets: 0, Threads: 0}
	if fds != nil {
		byKind := map[fdsnap.Kind]int{}
		for _, fd := range fds.FDs {
			if fd.Kind != fdsnap.Socket { // sockets are counted by class
				byKind[fd.Kind]++
			}
		}
		for kind, n := range byKind {
			c[FDs] += n
			c[FDs+"/"+kind.String()] = n
		}
	}
	for class, n := range sockets {
		c[Sockets] += n
		c[Sockets+"/"+class.String()] += n
	}
	for _, t := range ts {
		c[Threads]++
		c[Threads+"/"+t.Name]++
	}
	return c
}
