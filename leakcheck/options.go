package leakcheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/sockstate"
)

// Option configures Check, VerifyNone, VerifyTestMain, Find, Compare, Take,
// Cycle and Soak. Each option applies to some of them; given to one it does
// not apply to (a soak's WithIterations to Check, Cleanup to Find), it is a
// misuse error that names both.
type Option interface{ apply(*config) }

// entry is an entry point of the package, as a set for option scopes.
type entry uint16

const (
	inCheck entry = 1 << iota
	inVerifyNone
	inVerifyTestMain
	inFind
	inCompare
	inTake
	inCycle // Cycle, CycleAll, FindCycle
	inSoak  // Soak, RunSoak

	anywhere = inCheck | inVerifyNone | inVerifyTestMain | inFind | inCompare | inTake | inCycle | inSoak
	// settling entry points wait for teardown.
	settling = inCheck | inVerifyNone | inVerifyTestMain | inFind | inCycle
	// judging entry points report leaks against a baseline.
	judging = settling | inCompare
)

var entryNames = []struct {
	e    entry
	name string
}{
	{inCheck, "Check"}, {inVerifyNone, "VerifyNone"}, {inVerifyTestMain, "VerifyTestMain"},
	{inFind, "Find"}, {inCompare, "Compare"}, {inTake, "Take"},
	{inCycle, "Cycle, CycleAll and FindCycle"}, {inSoak, "Soak and RunSoak"},
}

func (e entry) String() string {
	var parts []string
	for _, n := range entryNames {
		if e&n.e != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ", ")
}

// option is every Option: its name as the user wrote it (for misuse
// messages), where it applies, and what it sets.
type option struct {
	name  string
	where entry
	set   func(*config)
}

func (o option) apply(c *config) {
	if c.entry != 0 && o.where&c.entry == 0 {
		c.misuse = append(c.misuse, fmt.Sprintf("%s does not apply to %s; it is for %s", o.name, c.entry, o.where))
		return
	}
	o.set(c)
}

// DefaultTimeout is how long a check waits for asynchronous teardown (a
// keep-alive connection closing, a goroutine seeing its context cancelled)
// before it reports what is still there. A clean check returns as soon as
// it is clean, whatever the timeout.
const DefaultTimeout = 3 * time.Second

type config struct {
	entry     entry
	test      string // the test a testing.TB entry point checks
	testFn    string // its function, as creation stacks show it
	resources Resource
	timeout   time.Duration
	target    target

	goroutineFilters []filter[*goroutine]
	fdFilters        []filter[fdsnap.FD]
	socketFilters    []filter[sockstate.Socket]
	threadFilters    []filter[Thread]
	processFilters   []filter[Process]
	// current are snapshots whose contents are ignored (IgnoreCurrent's,
	// and a parked test's), each counted under its name.
	current      []ignoredSnapshot
	tolerance    map[Resource]int
	cleanup      func(exitCode int)
	runOnFailure bool
	soak         soakConfig
	misuse       []string

	initial         bool // the package's initial snapshot: starts no tracer
	bisect          time.Duration
	heapTolerance   float64
	timerBoundValue time.Duration
	timerBoundSet   bool
	bisectSet       bool

	exactGoroutines bool
	// settle is a settling check's state between its looks (set by the
	// check, not by an option).
	settle *settleState

	// Test-only knobs.
	allowGCDuringSettle bool
}

func newConfig(e entry, opts []Option) *config {
	c := &config{entry: e, resources: AllResources, timeout: DefaultTimeout, target: selfTarget(),
		soak: soakConfig{interval: DefaultSampleInterval, warmup: DefaultWarmup}}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

func (c *config) err() error {
	if len(c.misuse) == 0 {
		return nil
	}
	return fmt.Errorf("leakcheck: %s", strings.Join(c.misuse, "\n"))
}

// misusef records a misuse of an entry point, reported before any check.
func (c *config) misusef(format string, args ...any) {
	c.misuse = append(c.misuse, fmt.Sprintf(format, args...))
}

// WithResources limits the check to the resources in r:
// WithResources(Goroutines) behaves like goleak.
func WithResources(r Resource) Option {
	return option{fmt.Sprintf("WithResources(%s)", r), anywhere, func(c *config) {
		if r&^AllResources != 0 || r == 0 {
			c.misusef("WithResources(%s): name one or more of %s", r, resourceNames())
			return
		}
		c.resources = r
	}}
}

// WithTimeout sets how long a check waits for resources to be released
// before it reports them (DefaultTimeout if unset). In a test it never waits
// past the test's deadline.
func WithTimeout(d time.Duration) Option {
	return option{fmt.Sprintf("WithTimeout(%v)", d), settling, func(c *config) {
		if d < 0 {
			c.misusef("WithTimeout(%v): the timeout cannot be negative", d)
			return
		}
		c.timeout = d
	}}
}

// WithExactGoroutines makes a check compare goroutines by ID on every look,
// whatever their number. Without it, a process with more than 1000
// goroutines is polled with a census of stacks (runtime.GoroutineProfile:
// no stop-the-world dump, about a tenth of its cost), which misses one
// change: a goroutine that exits while another with the very same stack
// starts, so a leaked goroutine can pass as the one that ended. With it,
// every look that cannot rule out a new goroutine from the runtime's count
// of goroutines created takes a full stack dump (measured here: 50 ms at
// 10 000 parked goroutines, 0.4 s at 100 000, 5.5 s at 100 000 fifty frames
// deep). Below 1000 goroutines, and whenever no goroutine was created
// since the baseline, checks are exact anyway.
func WithExactGoroutines() Option {
	return option{"WithExactGoroutines()", settling, func(c *config) { c.exactGoroutines = true }}
}

// WithTimerBound sets how long, in all, a check waits for goroutines that
// may end on their own when a timer fires (DefaultTimerBound), when nothing
// else is pending; it is never shorter than the timeout, and never runs
// past the test's deadline. A goroutine that can never run again (select{},
// a nil channel, or proven leaked by the garbage collector) fails the check
// at once instead.
func WithTimerBound(d time.Duration) Option {
	return option{fmt.Sprintf("WithTimerBound(%v)", d), settling, func(c *config) {
		if d < 0 {
			c.misusef("WithTimerBound(%v): the bound cannot be negative", d)
			return
		}
		c.timerBoundValue, c.timerBoundSet = d, true
	}}
}

// WithPID checks process pid instead of the current one: its file
// descriptors, sockets (in its network namespace), threads and child
// processes. The process can be written in any language; goroutines are
// only checked for the current process.
func WithPID(pid int) Option {
	return option{fmt.Sprintf("WithPID(%d)", pid), inCheck | inFind | inTake | inCycle | inSoak, func(c *config) {
		if pid <= 0 {
			c.misusef("WithPID(%d): want the pid of a running process", pid)
			return
		}
		c.target = pidTarget(pid)
	}}
}

// WithTolerance lets up to n leaked items of resource r pass, for code that
// is known to keep a bounded number (a cache of connections, a lazily
// started worker). Use it sparingly: a tolerance hides exactly that many
// leaks.
func WithTolerance(r Resource, n int) Option {
	return option{fmt.Sprintf("WithTolerance(%s, %d)", r, n), judging, func(c *config) {
		if n < 0 || r == 0 || r&^AllResources != 0 {
			c.misusef("WithTolerance(%s, %d): want a resource and n ≥ 0", r, n)
			return
		}
		if c.tolerance == nil {
			c.tolerance = make(map[Resource]int)
		}
		r.each(func(one Resource) { c.tolerance[one] = n })
	}}
}

// ignoreOption builds the Ignore… options: a filter of one kind, counted
// in the ignored note under the option's own name ("2 matching IgnoreFD
// ignored").
func ignoreOption[T any](name string, add func(*config, filter[T]), drop func(T) bool) Option {
	return option{name, judging | inSoak, func(c *config) {
		if drop == nil {
			c.misusef("%s: the function is nil", name)
			return
		}
		add(c, filter[T]{name: "matching " + name, drop: drop})
	}}
}

// IgnoreTopFunction ignores goroutines whose stack has function f at the
// top, as goleak.IgnoreTopFunction does. f is fully qualified:
// "net/http.(*persistConn).readLoop".
func IgnoreTopFunction(f string) Option {
	return ignoreOption(fmt.Sprintf("IgnoreTopFunction(%q)", f), addGoroutineFilter,
		func(g *goroutine) bool { return g.TopFunction() == f })
}

// IgnoreAnyFunction ignores goroutines with function f anywhere in their
// stack, as goleak.IgnoreAnyFunction does.
func IgnoreAnyFunction(f string) Option {
	return ignoreOption(fmt.Sprintf("IgnoreAnyFunction(%q)", f), addGoroutineFilter,
		func(g *goroutine) bool { return g.HasFunction(f) })
}

// IgnoreCreatedBy ignores goroutines created by function f (the "created by"
// line of the stack), as goleak.IgnoreCreatedBy does.
func IgnoreCreatedBy(f string) Option {
	return ignoreOption(fmt.Sprintf("IgnoreCreatedBy(%q)", f), addGoroutineFilter,
		func(g *goroutine) bool { return g.CreatedBy() == f })
}

func addGoroutineFilter(c *config, f filter[*goroutine]) {
	c.goroutineFilters = append(c.goroutineFilters, f)
}

// IgnoreFD ignores descriptors (other than sockets) for which ignore
// returns true.
func IgnoreFD(ignore func(fdsnap.FD) bool) Option {
	return ignoreOption("IgnoreFD", func(c *config, f filter[fdsnap.FD]) { c.fdFilters = append(c.fdFilters, f) }, ignore)
}

// IgnoreSocket ignores sockets for which ignore returns true.
func IgnoreSocket(ignore func(sockstate.Socket) bool) Option {
	return ignoreOption("IgnoreSocket", func(c *config, f filter[sockstate.Socket]) { c.socketFilters = append(c.socketFilters, f) }, ignore)
}

// IgnoreThread ignores threads for which ignore returns true.
func IgnoreThread(ignore func(Thread) bool) Option {
	return ignoreOption("IgnoreThread", func(c *config, f filter[Thread]) { c.threadFilters = append(c.threadFilters, f) }, ignore)
}

// IgnoreProcess ignores child processes for which ignore returns true.
func IgnoreProcess(ignore func(Process) bool) Option {
	return ignoreOption("IgnoreProcess", func(c *config, f filter[Process]) { c.processFilters = append(c.processFilters, f) }, ignore)
}

// IgnoreCurrent ignores everything the current process holds when the
// option is created, of every resource: its goroutines (as
// goleak.IgnoreCurrent does), descriptors, sockets, threads and child
// processes. A VerifyTestMain given IgnoreCurrent() after TestMain opened a
// listener does not report the listener.
func IgnoreCurrent() Option {
	snap, err := take(&config{resources: AllResources, target: selfTarget()}, baselineLook)
	return option{"IgnoreCurrent()", judging | inSoak, func(c *config) {
		if err != nil {
			c.misusef("IgnoreCurrent: %v", err)
			return
		}
		c.current = append(c.current, ignoredSnapshot{snap, "present at IgnoreCurrent()"})
	}}
}

// ignoredSnapshot is a snapshot whose contents a check ignores, and the
// name they are counted under.
type ignoredSnapshot struct {
	snap *Snapshot
	name string
}

// Cleanup runs f at the end of VerifyTestMain with the exit code the tests
// ended with (leakcheck's own failure turns 0 into 1), or at the end of
// VerifyNone with 0, instead of exiting: as goleak.Cleanup.
func Cleanup(f func(exitCode int)) Option {
	return option{"Cleanup", inVerifyNone | inVerifyTestMain, func(c *config) { c.cleanup = f }}
}

// RunOnFailure makes VerifyTestMain check for leaks even when the tests
// failed (by default it checks only after a successful run, as goleak
// does): as goleak.RunOnFailure.
func RunOnFailure() Option {
	return option{"RunOnFailure()", inVerifyTestMain, func(c *config) { c.runOnFailure = true }}
}

// allowGCDuringSettle turns off the garbage-collector pause of the settle
// window, so tests can show what the pause protects against.
func allowGCDuringSettle() Option {
	return option{"allowGCDuringSettle", anywhere, func(c *config) { c.allowGCDuringSettle = true }}
}
