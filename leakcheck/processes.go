package leakcheck

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/origin"
	"github.com/leakcheck/go/internal/procfs"
	"github.com/leakcheck/go/internal/procs"
)

// Process is a child process of the checked process.
type Process struct {
	PID      int
	Command  string // its command line ("sleep 20"); its name once it has exited
	category string // the command, bounded, for groups and counts
	State    string // "running" (or sleeping), "stopped", "zombie" (exited, never waited)

	start uint64 // clock ticks after boot: with PID, its identity
}

// String renders "child process 4242 sleep 20 (running)".
func (p Process) String() string {
	return fmt.Sprintf("child process %d %s (%s)", p.PID, p.Command, p.describeState())
}

func (p Process) describeState() string {
	if p.State == "zombie" {
		return "zombie: exited, never waited"
	}
	return p.State
}

// groupName is the process's category: its bounded command (a Process
// built by hand or read back has only Command).
func (p Process) groupName() string {
	if p.category != "" {
		return p.category
	}
	return p.Command
}

func (p Process) same(q Process) bool { return p.PID == q.PID && p.start == q.start }

// processKind is the target's child processes, by pid and start time. A
// child that appeared during the check and still exists, running or
// exited but never waited, is a leak.
type processKind struct{}

func (processKind) resource() Resource          { return Processes }
func (processKind) names() (string, string)     { return "process", "processes" }
func (processKind) itemNouns() (string, string) { return "child process", "child processes" }
func (processKind) goName() string              { return "Processes" }
func (processKind) processWide()                {}
func (processKind) collected(s *Snapshot) bool  { return s.Processes != nil }

func (processKind) collect(s *Snapshot, l look) error {
	if s.target.self && l != describeLook && procs.HasNone() {
		// No child at all, running or exited: one system call instead of a
		// read per thread.
		s.Processes = []Process{}
		return nil
	}
	kids, err := s.target.children()
	if err != nil {
		return err
	}
	s.Processes = make([]Process, 0, len(kids))
	for _, k := range kids {
		s.Processes = append(s.Processes, Process{PID: k.PID, Command: k.Command(), State: k.StateName(), start: k.Start, category: k.Category()})
	}
	if l == describeLook && s.FDs != nil {
		s.childPidfds = pidfdsOf(s.target, s.FDs, s.Processes)
	}
	return nil
}

// pidfdsOf maps the target's pidfds to the children they refer to, from
// /proc/PID/fdinfo ("Pid:").
func pidfdsOf(t target, fds *fdsnap.Snapshot, kids []Process) map[int]int {
	var m map[int]int
	for _, fd := range fds.FDs {
		if fd.Kind != fdsnap.PidFD {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(t.pid) + "/fdinfo/" + strconv.Itoa(fd.Num))
		if err != nil {
			continue
		}
		info, err := procfs.ParseFDInfo(b)
		if err != nil || !info.HasPid {
			continue
		}
		for _, k := range kids {
			if k.PID == info.Pid {
				if m == nil {
					m = make(map[int]int)
				}
				m[fd.Num] = k.PID
			}
		}
	}
	return m
}

// childOfPidfd returns the child a pidfd of the snapshot refers to, as the
// verdict's look found it.
func (s *Snapshot) childOfPidfd(fd int) (Process, bool) {
	pid, ok := s.childPidfds[fd]
	if !ok {
		return Process{}, false
	}
	for _, p := range s.Processes {
		if p.PID == pid {
			return p, true
		}
	}
	return Process{}, false
}

// hasProcess reports whether the snapshot holds child p.
func (s *Snapshot) hasProcess(p Process) bool {
	for _, q := range s.Processes {
		if q.same(p) {
			return true
		}
	}
	return false
}

func (processKind) diff(d *diffing, base, now *Snapshot) ([]Item, error) {
	if base.Processes == nil || now.Processes == nil {
		return nil, nil
	}
	var added []Process
	for _, p := range now.Processes {
		if !base.hasProcess(p) {
			added = append(added, p)
		}
	}
	added = keep(d, added, d.cfg.processFilters)
	pidfds := map[int][]int{}
	for fd, pid := range now.childPidfds {
		pidfds[pid] = append(pidfds[pid], fd)
	}
	for _, fds := range pidfds {
		slices.Sort(fds)
	}
	items := make([]Item, 0, len(added))
	for _, p := range added {
		state := p.describeState()
		for _, fd := range pidfds[p.PID] {
			state += fmt.Sprintf(", pidfd %d", fd)
		}
		items = append(items, Item{Resource: Processes, ID: uint64(p.PID), Text: fmt.Sprintf("%s (%s)", p.Command, state), group: p.groupName()})
	}
	return items, nil
}

func (processKind) count(s *Snapshot, m map[string]int) {
	for _, p := range s.Processes {
		m["processes"]++
		m["processes/"+p.groupName()]++
	}
}

func (processKind) details(base, now *Snapshot, items []Item) string {
	b := "== child processes at the verdict\n"
	for _, p := range now.Processes {
		b += p.String() + "\n"
	}
	return b + originStacks(items)
}

func (processKind) lookupOrigin(tr *origin.Tracer, it Item) (origin.Origin, bool) {
	return tr.Child(int(it.ID))
}
