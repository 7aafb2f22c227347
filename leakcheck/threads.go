package leakcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/leakcheck/go/internal/threads"
)

// Thread is an OS thread of the checked process.
type Thread struct {
	TID  int
	Name string // from /proc/PID/task/TID/comm, at most 15 bytes
}

// String renders "thread 4121 JRaft-RPC-Proc".
func (t Thread) String() string { return fmt.Sprintf("thread %d %s", t.TID, t.Name) }

// threadKind is the OS threads, by TID and name.
type threadKind struct{}

func (threadKind) resource() Resource          { return Threads }
func (threadKind) names() (string, string)     { return "thread", "threads" }
func (threadKind) itemNouns() (string, string) { return "thread", "threads" }
func (threadKind) goName() string              { return "Threads" }
func (threadKind) processWide()                {}
func (threadKind) collected(s *Snapshot) bool  { return s.Threads != nil }

func init() {
	// Open the descriptor threads.Count keeps on /proc/self/task before
	// the first snapshot, so it is part of every baseline.
	_, _ = threads.Count(0)
	_, _ = initialSnapshot()
}

func (threadKind) collect(s *Snapshot, l look) error {
	if l.baseline() {
		s.unnamedThreads = unnamedThreadNames(s.target)
	}
	var ts []threads.Thread
	var err error
	if prev := s.since; l == pollLook && prev != nil && prev.Threads != nil && s.target.self && s.resources&Goroutines != 0 {
		// A poll of this process reads the names of new threads only. A
		// thread renamed since the baseline is held by a goroutine locked
		// to it (a goroutine leak, which makes the verdict look again with
		// every name), or by nothing, which is no leak.
		ts, err = threads.ListSince(0, publicToInternal(prev.Threads))
	} else {
		ts, err = s.target.threads()
	}
	if err != nil {
		return err
	}
	s.Threads = make([]Thread, len(ts))
	for i, t := range ts {
		s.Threads[i] = Thread{TID: t.TID, Name: t.Name}
	}
	return nil
}

func (threadKind) diff(d *diffing, base, now *Snapshot) ([]Item, error) {
	if base.Threads == nil || now.Threads == nil {
		return nil, nil
	}
	// A thread is identified by TID and name: a goroutine that locks an
	// existing runtime thread and names it (prctl PR_SET_NAME) has made it
	// the test's thread.
	had := make(map[int]string, len(base.Threads))
	for _, t := range base.Threads {
		had[t.TID] = t.Name
	}
	var added []Thread
	for _, t := range now.Threads {
		if name, ok := had[t.TID]; !ok || name != t.Name {
			added = append(added, t)
		}
	}
	// A thread with the process's own name is one of the Go runtime's Ms
	// (or, in another program, a thread that never named itself): the
	// runtime starts them on demand and never stops them.
	unnamed := filter[Thread]{name: "unnamed runtime threads", drop: func(t Thread) bool { return base.unnamedThreads[t.Name] }}
	added = keep(d, added, []filter[Thread]{unnamed}, d.cfg.threadFilters)
	items := make([]Item, 0, len(added))
	for _, t := range added {
		items = append(items, Item{Resource: Threads, ID: uint64(t.TID), Text: t.Name, group: t.Name})
	}
	return items, nil
}

func (threadKind) count(s *Snapshot, m map[string]int) {
	for _, t := range s.Threads {
		m["threads"]++
		m["threads/"+t.Name]++
	}
}

// judged leaves threads that never named themselves out of a soak's
// verdict: the runtime's (Go's Ms come and go with load).
func (threadKind) judged(key string, base *Snapshot) bool {
	if key == "threads" {
		return false
	}
	name, ok := strings.CutPrefix(key, "threads/")
	return !ok || !base.unnamedThreads[name]
}

func (threadKind) details(base, now *Snapshot, items []Item) string {
	var b strings.Builder
	b.WriteString("\n== threads at the verdict\n")
	for _, t := range now.Threads {
		b.WriteString(t.String() + "\n")
	}
	return b.String()
}

func publicToInternal(ts []Thread) []threads.Thread {
	out := make([]threads.Thread, len(ts))
	for i, t := range ts {
		out[i] = threads.Thread{TID: t.TID, Name: t.Name}
	}
	return out
}

// processName is the name the process's threads are born with, read when
// the package is initialised: the main thread's, which the runtime's Ms
// inherit. (A test may rename the main thread later by locking a goroutine
// to it, so it is not read again.)
var processName = func() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", os.Getpid()))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}()

// unnamedThreadNames returns the names a thread of the target has when it
// never named itself: the kernel names a process after the file it
// executed (as exec was given it, cut to 15 bytes), and new threads inherit
// that name. The executable's own name and argv[0] are both candidates,
// since exec may go through a link; for this process, the main thread's
// name when leakcheck was initialised too. The main thread's current name
// is not trusted for another process: a goroutine locked to it may have
// renamed it.
func unnamedThreadNames(t target) map[string]bool {
	if t.self {
		return selfUnnamedThreads()
	}
	return readUnnamedThreadNames(t)
}

// selfUnnamedThreads is unnamedThreadNames for this process, which cannot
// change.
var selfUnnamedThreads = sync.OnceValue(func() map[string]bool { return readUnnamedThreadNames(selfTarget()) })

func readUnnamedThreadNames(t target) map[string]bool {
	names := map[string]bool{}
	add := func(p string) {
		if p == "" {
			return
		}
		base := filepath.Base(p)
		if len(base) > 15 {
			base = base[:15]
		}
		names[base] = true
	}
	proc := "/proc/" + strconv.Itoa(t.pid)
	if t.self && processName != "" {
		names[processName] = true
	}
	if exe, err := os.Readlink(proc + "/exe"); err == nil {
		add(strings.TrimSuffix(exe, " (deleted)"))
	}
	if b, err := os.ReadFile(proc + "/cmdline"); err == nil {
		argv0, _, _ := strings.Cut(string(b), "\x00")
		add(argv0)
	}
	return names
}
