package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/sockstate"
)

// Find compares the process with base and reports what it holds now that
// it did not hold then: goroutines by ID, descriptors by number and
// identity, sockets by inode, threads by TID. It polls with back-off until
// nothing is left or the timeout passes, so asynchronous teardown has time
// to finish, and a clean process returns at once.
//
// With a nil base, Find uses goleak's meaning of "none": no goroutines but
// the runtime's, the testing framework's and the caller's, and no
// descriptors, sockets or threads beyond what the process held when package
// leakcheck was initialised.
//
// The error is for a check that could not be made (a target that exited,
// an unreadable /proc); leaks are in the Report.
func Find(base *Snapshot, opts ...Option) (*Report, error) {
	cfg := newConfig(opts)
	if err := cfg.err(); err != nil {
		return nil, err
	}
	c := &check{cfg: cfg, base: base, deadline: time.Now().Add(cfg.timeout)}
	return c.run()
}

// check is one comparison against a baseline.
type check struct {
	cfg      *config
	base     *Snapshot // nil: the initial snapshot, goleak semantics for goroutines
	deadline time.Time

	// label, when set, attributes goroutines by the pprof label leakcheck
	// put on the checked test's goroutine (its value), instead of by ID:
	// set when checked tests overlap.
	label string
	// processWideNote, when set, says why fds, sockets and threads are not
	// checked (overlapping tests); the report carries it.
	processWideNote string
	// noSettle takes one look instead of polling (a test that already failed).
	noSettle bool
	// last is the look the verdict came from.
	last *Snapshot
}

// found is what one look found, before it is described for a report.
type found struct {
	goroutines []*goroutine
	fds        []fdsnap.FD // non-socket descriptors
	sockets    []fdsnap.FD // socket descriptors
	threads    []Thread
	ignored    map[string]int
	unchecked  []string
}

func (f *found) count(r Resource) int {
	switch r {
	case Goroutines:
		return len(f.goroutines)
	case FDs:
		return len(f.fds)
	case Sockets:
		return len(f.sockets)
	case Threads:
		return len(f.threads)
	}
	return 0
}

// clean reports whether nothing beyond the tolerances was found.
func (f *found) clean(cfg *config) bool {
	ok := true
	AllResources.each(func(r Resource) {
		if f.count(r) > cfg.tolerance[r] {
			ok = false
		}
	})
	return ok
}

func (c *check) run() (*Report, error) {
	base := c.base
	if base == nil {
		var err error
		base, err = initialSnapshot()
		if err != nil {
			return nil, err
		}
	}
	target := c.cfg.pid
	if target == 0 {
		target = os.Getpid()
	}
	if base.PID != target {
		return nil, fmt.Errorf("leakcheck: the baseline describes pid %d but the check targets pid %d; take the baseline with the same WithPID option", base.PID, target)
	}
	if missing := c.cfg.resources &^ base.resources; c.base != nil && missing != 0 {
		return nil, fmt.Errorf("leakcheck: the baseline was taken without %s; take it with the same WithResources option as the check", missing)
	}
	if !c.cfg.allowGCDuringSettle {
		pauseGC()
		defer resumeGC()
	}
	start := time.Now()
	sleep := time.Millisecond
	for {
		now, err := take(c.cfg, pollLook)
		if err != nil {
			return nil, err
		}
		f, err := c.diff(base, now)
		if err != nil {
			return nil, err
		}
		if f.clean(c.cfg) {
			c.last = now
			return c.report(base, now, f, time.Since(start))
		}
		if c.noSettle || !time.Now().Add(sleep).Before(c.deadline) {
			break
		}
		time.Sleep(sleep)
		if sleep *= 2; sleep > 10*time.Millisecond {
			sleep = 10 * time.Millisecond
		}
	}
	// Look once more, with everything a report needs.
	now, err := take(c.cfg, describeLook)
	if err != nil {
		return nil, err
	}
	f, err := c.diff(base, now)
	if err != nil {
		return nil, err
	}
	c.last = now
	waited := time.Since(start)
	if c.noSettle {
		waited = 0 // one look, no waiting
	}
	return c.report(base, now, f, waited)
}

// diff finds what now holds that base did not.
func (c *check) diff(base, now *Snapshot) (*found, error) {
	f := &found{ignored: map[string]int{}}
	for r, err := range now.unsupported {
		f.unchecked = append(f.unchecked, fmt.Sprintf("%s not checked: %v", r, err))
	}
	if c.cfg.resources&Goroutines != 0 && now.goroutines != nil && c.cfg.pid == 0 && (c.base == nil || base.goroutines != nil) {
		gs, ignored, err := newGoroutines(base.goroutines, now.goroutines, c.base == nil, c.label)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			if !c.ignoreGoroutine(g) {
				f.goroutines = append(f.goroutines, g)
			}
		}
		if ignored > 0 {
			f.ignored["runtime and testing goroutines"] += ignored
		}
	}
	if c.processWideNote != "" {
		if c.cfg.resources&(FDs|Sockets|Threads) != 0 {
			f.unchecked = append(f.unchecked, c.processWideNote)
		}
		return f, nil
	}
	if c.cfg.resources&(FDs|Sockets) != 0 && now.FDs != nil && base.FDs != nil {
		runtimeOwned := append(append([]fdsnap.FD(nil), base.runtimeFDs...), now.runtimeFDs...)
		for _, fd := range fdsnap.Compare(base.FDs, now.FDs).Opened() {
			switch {
			case c.cfg.pid == 0 && containsFD(runtimeOwned, fd):
				f.ignored["runtime fds"]++
			case c.cfg.pid == 0 && isTestingFile(fd):
				f.ignored["testing framework fds"]++
			case c.cfg.pid == 0 && fdsnap.IsSplicePipe(fd):
				f.ignored["pooled splice pipes"]++
			case fd.Kind == fdsnap.Socket:
				if c.cfg.resources&Sockets != 0 {
					f.sockets = append(f.sockets, fd)
				}
			case c.cfg.resources&FDs != 0 && !c.ignoreFD(fd):
				f.fds = append(f.fds, fd)
			}
		}
		if len(f.sockets) > 0 && len(c.cfg.socketFilters) > 0 {
			socks, err := now.sockets(c.cfg.pid)
			if err != nil {
				return nil, err
			}
			kept := f.sockets[:0]
			for _, fd := range f.sockets {
				if s, ok := socks[fd.Ino]; ok && c.ignoreSocket(s) {
					continue
				}
				kept = append(kept, fd)
			}
			f.sockets = kept
		}
	}
	if c.cfg.resources&Threads != 0 && now.Threads != nil && base.Threads != nil {
		// A thread is identified by TID and name: a goroutine that locks an
		// existing runtime thread and names it (prctl PR_SET_NAME) has made
		// it the test's thread.
		unnamed := base.unnamedThreads
		had := make(map[int]string, len(base.Threads))
		for _, t := range base.Threads {
			had[t.TID] = t.Name
		}
		for _, t := range now.Threads {
			name, ok := had[t.TID]
			switch {
			case ok && name == t.Name:
			case unnamed[t.Name]:
				// A thread with the process's own name is one of the Go
				// runtime's Ms (or, in another program, a thread that
				// never named itself): the runtime starts them on demand
				// and never stops them, so they are not a test's leak.
				f.ignored["unnamed runtime threads"]++
			case !c.ignoreThread(t):
				f.threads = append(f.threads, t)
			}
		}
	}
	return f, nil
}

func containsFD(list []fdsnap.FD, fd fdsnap.FD) bool {
	for _, r := range list {
		if r.Num == fd.Num && fdsnap.SameObject(r, fd) {
			return true
		}
	}
	return false
}

func (c *check) ignoreGoroutine(g *goroutine) bool {
	for _, f := range c.cfg.goroutineFilters {
		if f(g) {
			return true
		}
	}
	return false
}

func (c *check) ignoreFD(fd fdsnap.FD) bool {
	for _, f := range c.cfg.fdFilters {
		if f(fd) {
			return true
		}
	}
	return false
}

func (c *check) ignoreSocket(s sockstate.Socket) bool {
	for _, f := range c.cfg.socketFilters {
		if f(s) {
			return true
		}
	}
	return false
}

func (c *check) ignoreThread(t Thread) bool {
	for _, f := range c.cfg.threadFilters {
		if f(t) {
			return true
		}
	}
	return false
}

// sockets returns the sockets behind the snapshot's descriptors, by inode:
// those it stored, or else read now.
// Sockets read now are kept (checks own the snapshots they take), so a
// check that filters sockets and then reports them reads them once.
func (s *Snapshot) sockets(pid int) (map[uint64]sockstate.Socket, error) {
	if s.socketsByInode != nil {
		return s.socketsByInode, nil
	}
	if s.Sockets == nil {
		m, err := describeSockets(pid, s.FDs)
		if err != nil {
			return nil, err
		}
		s.socketsByInode = m
		return m, nil
	}
	m := make(map[uint64]sockstate.Socket, len(s.Sockets.Sockets))
	for _, so := range s.Sockets.Sockets {
		m[so.Inode] = so
	}
	return m, nil
}

// describeSockets returns the sockets behind fds, by inode.
func describeSockets(pid int, fds *fdsnap.Snapshot) (map[uint64]sockstate.Socket, error) {
	var snap *sockstate.Snapshot
	var err error
	if pid == 0 {
		snap, err = sockstate.Take(sockstate.WithFDs(fds))
	} else {
		snap, err = sockstate.TakePID(pid, sockstate.WithFDs(fds))
	}
	if err != nil {
		return nil, targetErr(pid, err)
	}
	m := make(map[uint64]sockstate.Socket, len(snap.Sockets))
	for _, s := range snap.Sockets {
		m[s.Inode] = s
	}
	return m, nil
}

// The initial snapshot is taken when package leakcheck is initialised:
// what "none" means for descriptors, sockets and threads.
var initial struct {
	once sync.Once
	snap *Snapshot
	err  error
}

func init() {
	// Open the descriptor threads.Count keeps on /proc/self/task before
	// the first snapshot, so it is part of every baseline.
	_, _ = threads.Count(0)
	_, _ = initialSnapshot()
}

func initialSnapshot() (*Snapshot, error) {
	initial.once.Do(func() {
		initial.snap, initial.err = take(&config{resources: FDs | Sockets | Threads}, baselineLook)
		if initial.err == nil {
			initial.snap.resources = AllResources
		}
	})
	return initial.snap, initial.err
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

// unnamedThreadNames returns the names a thread of process pid (0: this
// one) has when it never named itself: the kernel names a process after the
// file it executed (as exec was given it, cut to 15 bytes), and new threads
// inherit that name. The executable's own name and argv[0] are both
// candidates, since exec may go through a link; for this process, the main
// thread's name when leakcheck was initialised too. The main thread's
// current name is not trusted for another process: a goroutine locked to
// it may have renamed it.
func unnamedThreadNames(pid int) map[string]bool {
	if pid == 0 {
		return selfUnnamedThreads()
	}
	return readUnnamedThreadNames(pid)
}

// selfUnnamedThreads is unnamedThreadNames(0), which cannot change.
var selfUnnamedThreads = sync.OnceValue(func() map[string]bool { return readUnnamedThreadNames(0) })

func readUnnamedThreadNames(pid int) map[string]bool {
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
	proc := "/proc/self"
	if pid != 0 {
		proc = "/proc/" + strconv.Itoa(pid)
	} else if processName != "" {
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

// The garbage collector is paused while checks settle: a finalizer could
// otherwise close an unreachable, leaked *os.File or net.Conn during the
// wait and turn a real leak into a pass. Pauses nest across parallel checks.
var gcPause struct {
	sync.Mutex
	depth   int
	percent int
}

func pauseGC() {
	gcPause.Lock()
	defer gcPause.Unlock()
	if gcPause.depth == 0 {
		gcPause.percent = debug.SetGCPercent(-1)
	}
	gcPause.depth++
}

func resumeGC() {
	gcPause.Lock()
	defer gcPause.Unlock()
	gcPause.depth--
	if gcPause.depth == 0 {
		debug.SetGCPercent(gcPause.percent)
	}
}

// Compare reports what after holds that before did not, by identity, as
// Find does, but from the two snapshots alone: it neither waits nor looks
// at the process again. Both must describe the same process. Use it for
// before/after scripts and for snapshots stored and read back; resources
// that one of the snapshots lacks are not compared. Sockets are described
// from after.Sockets.
func Compare(before, after *Snapshot, opts ...Option) (*Report, error) {
	cfg := newConfig(opts)
	if before == nil || after == nil {
		cfg.misuse = append(cfg.misuse, "Compare needs two snapshots; got nil")
	} else if before.PID != after.PID {
		cfg.misuse = append(cfg.misuse, fmt.Sprintf("Compare: the snapshots describe pid %d and pid %d", before.PID, after.PID))
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	cfg.resources &= before.collected() & after.collected()
	if before.PID != os.Getpid() {
		cfg.pid = before.PID
	}
	c := &check{cfg: cfg, base: before, noSettle: true, deadline: time.Now()}
	f, err := c.diff(before, after)
	if err != nil {
		return nil, err
	}
	return c.report(before, after, f, 0)
}

// collected returns the resources the snapshot holds: those Take recorded,
// or for a snapshot built by hand, those whose fields are set.
func (s *Snapshot) collected() Resource {
	if s.resources != 0 {
		return s.resources
	}
	var r Resource
	if s.goroutines != nil {
		r |= Goroutines
	}
	if s.FDs != nil {
		r |= FDs | Sockets
	}
	if s.Threads != nil {
		r |= Threads
	}
	return r
}

// lookOnce reports what the process holds now that base did not, in one
// look with the details a report needs and no waiting: what live objects
// hold in a cycle, the culprits at the end of a soak.
func lookOnce(cfg *config, base *Snapshot) (*Report, error) {
	c := &check{cfg: cfg, base: base, noSettle: true, deadline: time.Now()}
	now, err := take(cfg, describeLook)
	if err != nil {
		return nil, err
	}
	f, err := c.diff(base, now)
	if err != nil {
		return nil, err
	}
	return c.report(base, now, f, 0)
}

// report describes what f found for a person and for code.
func (c *check) report(base, now *Snapshot, f *found, waited time.Duration) (*Report, error) {
	r := &Report{Target: "this process", Waited: waited, tolerance: c.cfg.tolerance}
	if c.cfg.pid != 0 {
		r.Target = fmt.Sprintf("pid %d", c.cfg.pid)
	}
	for what, n := range f.ignored {
		r.Ignored = append(r.Ignored, Ignored{What: what, Count: n})
	}
	sort.Slice(r.Ignored, func(i, j int) bool { return r.Ignored[i].What < r.Ignored[j].What })
	r.Unchecked = append(r.Unchecked, f.unchecked...)
	sort.Strings(r.Unchecked)

	if len(f.goroutines) > 0 {
		r.Categories = append(r.Categories, goroutineCategory(f.goroutines))
	}
	if len(f.fds) > 0 {
		r.Categories = append(r.Categories, fdCategory(f.fds))
	}
	if len(f.sockets) > 0 {
		socks, err := now.sockets(c.cfg.pid)
		if err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return nil, err
		}
		r.Categories = append(r.Categories, socketCategory(f.sockets, socks))
	}
	if len(f.threads) > 0 {
		r.Categories = append(r.Categories, threadCategory(f.threads))
	}
	if r.Leaked() {
		var b strings.Builder
		if len(f.goroutines) > 0 {
			b.WriteString("== leaked goroutines, full stacks\n\n" + stacks(f.goroutines))
		}
		if base.FDs != nil && now.FDs != nil {
			fmt.Fprintf(&b, "== descriptors at the baseline\n%s\n\n== descriptors at the verdict\n%s\n", base.FDs, now.FDs)
		}
		if len(now.Threads) > 0 {
			b.WriteString("\n== threads at the verdict\n")
			for _, t := range now.Threads {
				b.WriteString(t.String() + "\n")
			}
		}
		r.dump = b.String()
	}
	return r, nil
}
