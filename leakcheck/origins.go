package leakcheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakcheck/go/internal/gostack"
	"github.com/leakcheck/go/internal/origin"
)

// Origins: where each leaked descriptor, socket and child process was
// created. A process-wide tracer (eBPF, see internal/origin) records the
// user stack of every syscall that creates one, from the first check of the
// current process on; a report prints the first frame in the user's code
// ("opened at segmentstore.(*Store).openSegment store.go:88") and the
// artifacts hold the whole stack. LEAKCHECK_ORIGINS=off turns it off,
// LEAKCHECK_ORIGINS=stacks prints the whole stack under each item too.
// Where the tracer cannot run (no privilege, another OS), reports say once
// how to enable it; nothing else changes.

// originsMode reads LEAKCHECK_ORIGINS: "off", "stacks", or on.
func originsMode() string { return strings.ToLower(os.Getenv("LEAKCHECK_ORIGINS")) }

var selfOrigins struct {
	once    sync.Once
	started atomic.Pointer[origin.Tracer]
	err     error
	own     map[int]bool // the tracer's own descriptors
}

// startOrigins starts the tracer of the current process, once, before the
// first baseline that may use it; it reports whether origins are recorded.
func startOrigins() bool {
	selfOrigins.once.Do(func() {
		if originsMode() == "off" {
			selfOrigins.err = errors.New("turned off by LEAKCHECK_ORIGINS=off")
			return
		}
		tr, err := origin.Start(os.Getpid())
		selfOrigins.err = err
		if tr != nil {
			selfOrigins.own = map[int]bool{}
			for _, fd := range tr.OwnFDs() {
				selfOrigins.own[fd] = true
			}
			selfOrigins.started.Store(tr)
		}
	})
	return selfOrigins.started.Load() != nil
}

// tracerFor returns the tracer that knows the target's creations, if any
// was started.
func tracerFor(t target) *origin.Tracer {
	if t.self {
		return selfOrigins.started.Load()
	}
	return nil
}

// originsNote is the one line a report with descriptors or children adds
// when their origins are not known, saying how to get them.
func originsNote(t target) string {
	if !t.self {
		return "" // another process: origins are this process's only
	}
	if selfOrigins.started.Load() != nil || originsMode() == "off" {
		return ""
	}
	if selfOrigins.err == nil {
		return "where they were created is not shown: origins are recorded from the first Check, Take, Cycle, Soak or VerifyTestMain of this process on"
	}
	return "where they were created is not shown: " + selfOrigins.err.Error()
}

// ownTracerFD reports whether fd is the tracer's own.
func ownTracerFD(fd int) bool {
	return selfOrigins.started.Load() != nil && selfOrigins.own[fd]
}

// originer kinds know where their items were created.
type originer interface {
	lookupOrigin(tr *origin.Tracer, it Item) (origin.Origin, bool)
}

// annotate gives the items of kind k their origins, where the tracer knows
// them, and returns what it found for blame.
//
// An origin names the test on its stack when that is not callerFn, the
// checking test's function (VerifyTestMain has none).
func annotate(k kind, tr *origin.Tracer, items []Item, since time.Time, callerFn string) []creation {
	o, ok := k.(originer)
	if !ok || tr == nil {
		return nil
	}
	out := make([]creation, len(items))
	for i := range items {
		rec, ok := o.lookupOrigin(tr, items[i])
		if !ok {
			continue
		}
		c, ok := originOf(rec, since)
		if !ok {
			continue
		}
		items[i].Origin, items[i].stack, items[i].test = c.text, c.stack, c.test
		if c.test != "" && c.test != callerFn {
			items[i].Origin += " in " + c.test
		}
		out[i] = c
	}
	return out
}

// creation is an item's origin, as the report needs it.
type creation struct {
	text  string // "opened at segmentstore.(*Store).openSegment store.go:88"
	test  string // the test function on the stack ("TestDelete", "TestX.func1"), if any
	entry string // the outermost function: a goroutine's entry, when no test is on the stack
	stack string // every frame, for artifacts
}

// originOf returns how the creation recorded in o reads in a report, or
// false for a record older than the baseline (a number reused since: the
// record is of an earlier descriptor).
func originOf(o origin.Origin, since time.Time) (creation, bool) {
	if o.Time.Before(since) {
		return creation{}, false
	}
	frames := o.Frames()
	var gs []gostack.Frame
	var b strings.Builder
	for _, f := range frames {
		gs = append(gs, gostack.Frame{Func: f.Function, File: f.File, Line: f.Line})
		fmt.Fprintf(&b, "    %s\n        %s:%d\n", f.Function, f.File, f.Line)
	}
	c := creation{stack: b.String()}
	f, ok := userFrame(gs)
	if !ok {
		if f, ok = entryFrame(gs); !ok {
			return creation{}, false
		}
	}
	c.text = fmt.Sprintf("%s at %s %s:%d", verb(o.Syscall), shortFunc(f.Func), filepath.Base(f.File), f.Line)
	for i, g := range gs {
		switch {
		case g.Func == "testing.tRunner" && i > 0:
			c.test = testName(gs[i-1].Func)
		case g.Func == "runtime.goexit" && i > 0 && c.test == "":
			c.entry = gs[i-1].Func
		}
	}
	return c, true
}

// entryFrame names a creation with no user code on its stack (a connection
// net/http's Transport dialed in its own goroutine): by the outermost frame
// that is not the runtime's, the code that set it going. The innermost, a
// syscall stub, would say nothing.
func entryFrame(frames []gostack.Frame) (gostack.Frame, bool) {
	for i := len(frames) - 1; i >= 0; i-- {
		if f := frames[i]; f.Func != "" && !strings.HasPrefix(f.Func, "runtime.") {
			return f, true
		}
	}
	return gostack.Frame{}, false
}

// verb names what a syscall did to make the resource.
func verb(syscall string) string {
	switch {
	case strings.HasPrefix(syscall, "open"), syscall == "creat":
		return "opened"
	case strings.HasPrefix(syscall, "accept"):
		return "accepted"
	case strings.HasPrefix(syscall, "dup"), syscall == "fcntl":
		return "duplicated"
	case strings.HasPrefix(syscall, "clone"), strings.HasSuffix(syscall, "fork"):
		return "started"
	}
	return "created"
}

// shortFunc drops the import path but for the package's name:
// "github.com/x/segmentstore.(*Store).open" → "segmentstore.(*Store).open".
func shortFunc(fn string) string { return fn[strings.LastIndexByte(fn, '/')+1:] }

// testName turns a test function into the test's name as far as the stack
// tells: "example.com/pkg.TestX" → "TestX"; a subtest's closure keeps its
// suffix ("TestX.func1"), since its name is not on the stack.
func testName(fn string) string {
	name := shortFunc(fn)
	if _, rest, ok := strings.Cut(name, "."); ok {
		return rest
	}
	return name
}

// blame tells a test's process-wide items from those of the tests that
// ran at the same time, by where each was created: a stack through the
// test's own function is the test's; a stack that ends in a goroutine's
// entry function is the test's when a goroutine of the test (by its pprof
// label) runs that function. Anything else cannot be told.
type blame struct {
	fn     string   // the checking test's function, as stacks show it
	label  string   // its pprof label
	others []string // the functions of the tests it overlapped
}

// split keeps the items created by the test, drops (and counts) those
// created by another, and returns how many could not be told.
func (b *blame) split(k kind, items []Item, cs []creation, d *diffing) ([]Item, int) {
	if cs == nil {
		return nil, len(items)
	}
	ambiguous := slices.Contains(b.others, b.fn) // sibling subtests share a closure
	var entries map[string]string                // goroutine entry function → label
	mine := items[:0]
	unknown := 0
	for i, it := range items {
		c := cs[i]
		switch {
		case c.test != "" && !ambiguous && c.test == b.fn:
			mine = append(mine, it)
		case c.test != "" && !ambiguous:
			d.ignored["created by other tests (by origin)"]++
		case c.test == "" && c.entry != "":
			if entries == nil {
				entries = labelledEntries()
			}
			switch label, ok := entries[c.entry]; {
			case ok && nested(b.label, label):
				mine = append(mine, it)
			case ok && label != "":
				d.ignored["created by other tests (by origin)"]++
			default:
				unknown++
			}
		default:
			unknown++
		}
	}
	return mine, unknown
}

// labelledEntries maps the entry function of every goroutine that carries
// a leakcheck test label to that label ("" when goroutines of several tests
// run it).
func labelledEntries() map[string]string {
	out := map[string]string{}
	c, err := gostack.TakeLabeledCensus()
	if err != nil {
		return out
	}
	for _, g := range c.Growth(&gostack.Census{}) {
		label := g.Labels[labelKey]
		frames := g.Frames
		if n := len(frames); n > 0 && frames[n-1].Func == "runtime.goexit" {
			frames = frames[:n-1]
		}
		if label == "" || len(frames) == 0 {
			continue
		}
		entry := frames[len(frames)-1].Func
		if prev, ok := out[entry]; ok && prev != label {
			out[entry] = ""
			continue
		}
		out[entry] = label
	}
	return out
}

// callerTest returns the test function on the calling goroutine's stack
// (the frame testing.tRunner called), as a creation names it.
func callerTest() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	prev := ""
	for {
		f, more := frames.Next()
		if f.Function == "testing.tRunner" {
			return testName(prev)
		}
		prev = f.Function
		if !more {
			return ""
		}
	}
}
