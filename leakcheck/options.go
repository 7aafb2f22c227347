package leakcheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/sockstate"
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

	AllResources = Goroutines | FDs | Sockets | Threads
)

var resourceNames = []struct {
	r    Resource
	name string
}{{Goroutines, "goroutines"}, {FDs, "fds"}, {Sockets, "sockets"}, {Threads, "threads"}}

// String names the resources in the set: "goroutines", "fds|sockets".
func (r Resource) String() string {
	var parts []string
	for _, n := range resourceNames {
		if r&n.r != 0 {
			parts = append(parts, n.name)
			r &^= n.r
		}
	}
	if r != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("Resource(%#x)", uint8(r)))
	}
	return strings.Join(parts, "|")
}

// each calls f for every single resource in r, in report order.
func (r Resource) each(f func(Resource)) {
	for _, n := range resourceNames {
		if r&n.r != 0 {
			f(n.r)
		}
	}
}

// Option configures Check, VerifyNone, VerifyTestMain, Find, Cycle and Soak.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// DefaultTimeout is how long a check waits for asynchronous teardown (a
// keep-alive connection closing, a goroutine seeing its context cancelled)
// before it reports what is still there. A clean check returns as soon as
// it is clean, whatever the timeout.
const DefaultTimeout = 3 * time.Second

type config struct {
	resources Resource
	timeout   time.Duration
	pid       int // 0: the current process

	goroutineFilters []func(g *goroutine) bool
	fdFilters        []func(fdsnap.FD) bool
	socketFilters    []func(sockstate.Socket) bool
	threadFilters    []func(Thread) bool
	tolerance        map[Resource]int
	cleanup          func(exitCode int)
	soak             soakConfig
	misuse           []string

	// Test-only knobs.
	allowGCDuringSettle bool
}

func newConfig(opts []Option) *config {
	c := &config{resources: AllResources, timeout: DefaultTimeout,
		soak: soakConfig{interval: DefaultSampleInterval, warmup: DefaultWarmup}}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// WithResources limits the check to the resources in r:
// WithResources(Goroutines) behaves like goleak.
func WithResources(r Resource) Option {
	return optionFunc(func(c *config) {
		if r&^AllResources != 0 || r == 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithResources(%s): name one or more of Goroutines, FDs, Sockets, Threads", r))
			return
		}
		c.resources = r
	})
}

// WithTimeout sets how long a check waits for resources to be released
// before it reports them (DefaultTimeout if unset). In a test it never waits
// past the test's deadline.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithTimeout(%v): the timeout cannot be negative", d))
			return
		}
		c.timeout = d
	})
}

// WithPID checks process pid instead of the current one: its file
// descriptors, sockets (in its network namespace) and threads. The process
// can be written in any language; goroutines are only checked for the
// current process.
func WithPID(pid int) Option {
	return optionFunc(func(c *config) {
		if pid <= 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithPID(%d): want the pid of a running process", pid))
			return
		}
		c.pid = pid
	})
}

// WithTolerance lets up to n leaked items of resource r pass, for code that
// is known to keep a bounded number (a cache of connections, a lazily
// started worker). Use it sparingly: a tolerance hides exactly that many
// leaks.
func WithTolerance(r Resource, n int) Option {
	return optionFunc(func(c *config) {
		if n < 0 || r == 0 || r&^AllResources != 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithTolerance(%s, %d): want a resource and n ≥ 0", r, n))
			return
		}
		if c.tolerance == nil {
			c.tolerance = make(map[Resource]int)
		}
		r.each(func(one Resource) { c.tolerance[one] = n })
	})
}

// IgnoreTopFunction ignores goroutines whose stack has function f at the
// top, as goleak.IgnoreTopFunction does. f is fully qualified:
// "net/http.(*persistConn).readLoop".
func IgnoreTopFunction(f string) Option {
	return optionFunc(func(c *config) {
		c.goroutineFilters = append(c.goroutineFilters, func(g *goroutine) bool { return g.TopFunction() == f })
	})
}

// IgnoreAnyFunction ignores goroutines with function f anywhere in their
// stack, as goleak.IgnoreAnyFunction does.
func IgnoreAnyFunction(f string) Option {
	return optionFunc(func(c *config) {
		c.goroutineFilters = append(c.goroutineFilters, func(g *goroutine) bool { return g.HasFunction(f) })
	})
}

// IgnoreCreatedBy ignores goroutines created by function f (the "created by"
// line of the stack), as goleak.IgnoreCreatedBy does.
func IgnoreCreatedBy(f string) Option {
	return optionFunc(func(c *config) {
		c.goroutineFilters = append(c.goroutineFilters, func(g *goroutine) bool { return g.CreatedBy() == f })
	})
}

// IgnoreCurrent ignores the goroutines that exist when the option is
// created, as goleak.IgnoreCurrent does.
func IgnoreCurrent() Option {
	ids, err := currentGoroutineIDs()
	return optionFunc(func(c *config) {
		if err != nil {
			c.misuse = append(c.misuse, "IgnoreCurrent: "+err.Error())
			return
		}
		c.goroutineFilters = append(c.goroutineFilters, func(g *goroutine) bool { return ids[g.ID] })
	})
}

// IgnoreFD ignores descriptors (other than sockets) for which ignore
// returns true.
func IgnoreFD(ignore func(fdsnap.FD) bool) Option {
	return optionFunc(func(c *config) {
		if ignore != nil {
			c.fdFilters = append(c.fdFilters, ignore)
		}
	})
}

// IgnoreSocket ignores sockets for which ignore returns true.
func IgnoreSocket(ignore func(sockstate.Socket) bool) Option {
	return optionFunc(func(c *config) {
		if ignore != nil {
			c.socketFilters = append(c.socketFilters, ignore)
		}
	})
}

// IgnoreThread ignores threads for which ignore returns true.
func IgnoreThread(ignore func(Thread) bool) Option {
	return optionFunc(func(c *config) {
		if ignore != nil {
			c.threadFilters = append(c.threadFilters, ignore)
		}
	})
}

// Cleanup runs f at the end of VerifyTestMain with the exit code the tests
// ended with (leakcheck's own failure turns 0 into 1), or at the end of
// VerifyNone with 0, instead of exiting: as goleak.Cleanup.
func Cleanup(f func(exitCode int)) Option {
	return optionFunc(func(c *config) { c.cleanup = f })
}

// allowGCDuringSettle turns off the garbage-collector pause of the settle
// window, so tests can show what the pause protects against.
func allowGCDuringSettle() Option {
	return optionFunc(func(c *config) { c.allowGCDuringSettle = true })
}
