package leakcheck

import (
	"errors"
	"fmt"
	"os"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/procs"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/sockstate"
)

// target is the process a check looks at: this one, or another by pid.
// It is resolved once, when the options are read; collectors ask it, and
// nothing else branches on which process it is.
type target struct {
	pid  int  // always set: os.Getpid() for this process
	self bool // the current process
}

func selfTarget() target { return target{pid: os.Getpid(), self: true} }

func pidTarget(pid int) target {
	if pid == os.Getpid() {
		return selfTarget()
	}
	return target{pid: pid}
}

// String names the target as reports do: "this process", "pid 4242".
func (t target) String() string {
	if t.self {
		return "this process"
	}
	return fmt.Sprintf("pid %d", t.pid)
}

// procPID is the pid the /proc-reading internal packages take: 0 for self.
func (t target) procPID() int {
	if t.self {
		return 0
	}
	return t.pid
}

// err names the target in a collector's error and marks a target that
// exited, so checks say so instead of reporting a pass.
func (t target) err(err error) error {
	if !t.self && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("target pid %d exited during the check: %w", t.pid, err)
	}
	return err
}

func (t target) fds(opts ...fdsnap.Option) (*fdsnap.Snapshot, error) {
	if t.self {
		return fdsnap.Take(opts...)
	}
	return fdsnap.TakePID(t.pid, opts...)
}

func (t target) fdCount() (int, error) {
	if t.self {
		return fdsnap.Count()
	}
	return fdsnap.CountPID(t.pid)
}

func (t target) sockets(fds *fdsnap.Snapshot) (*sockstate.Snapshot, error) {
	if t.self {
		return sockstate.Take(sockstate.WithFDs(fds))
	}
	return sockstate.TakePID(t.pid, sockstate.WithFDs(fds))
}

func (t target) socketCounts(fds *fdsnap.Snapshot) (map[sockstate.Class]int, error) {
	if t.self {
		return sockstate.Count(sockstate.WithFDs(fds))
	}
	return sockstate.CountPID(t.pid, sockstate.WithFDs(fds))
}

func (t target) threads() ([]threads.Thread, error) { return threads.List(t.procPID()) }

func (t target) children() ([]procs.Process, error) { return procs.Children(t.pid) }
