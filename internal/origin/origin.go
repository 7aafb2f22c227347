package origin

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ErrUnavailable is wrapped by every error of Start that means origins cannot
// be recorded here (no privilege, no eBPF, another OS or architecture); the
// message says how to enable them.
var ErrUnavailable = errors.New("origin: creation stacks unavailable")

// Tracer records, for one target process, the user stack of every syscall
// that creates a file descriptor or a child process, from Start until Close.
// Its methods are safe for concurrent use.
type Tracer struct {
	mu     sync.Mutex
	t      *tracer // nil once closed
	closed error   // what Close returned
}

// Start begins recording the target process pid (os.Getpid() for the
// current one). The error wraps ErrUnavailable when this process may not
// trace, with a one-line hint of how to enable it; Start never panics.
func Start(pid int) (tr *Tracer, err error) {
	defer func() {
		if r := recover(); r != nil {
			tr, err = nil, fmt.Errorf("%w: %v", ErrUnavailable, r)
		}
	}()
	if pid <= 0 {
		return nil, fmt.Errorf("origin: Start(%d): not a process ID", pid)
	}
	t, err := start(pid)
	if err != nil {
		return nil, err
	}
	return &Tracer{t: t}, nil
}

// FD returns the latest creation of descriptor number fd in the target that
// the tracer saw, and false when it saw none (created before Start, by a
// syscall it does not cover, or after Close). Closes are not recorded: for a
// descriptor known to be newer than a moment T, an Origin whose Time is
// before T belongs to an earlier descriptor of the same number.
func (t *Tracer) FD(fd int) (Origin, bool) {
	if fd < 0 {
		return Origin{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		return Origin{}, false
	}
	return t.t.lookup(t.t.fds, fd)
}

// Child returns the fork, vfork, clone or clone3 of the target that created
// process pid (threads are not children), and false when the tracer saw
// none or saw the target reap it (wait4, waitid): only children that are
// alive or zombies are kept.
func (t *Tracer) Child(pid int) (Origin, bool) {
	if pid <= 0 {
		return Origin{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		return Origin{}, false
	}
	return t.t.lookup(t.t.children, pid)
}

// Close stops recording and frees the kernel's maps; what was recorded is
// gone with them. Closing twice returns the first result.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t != nil {
		t.closed = t.t.close()
		t.t = nil
	}
	return t.closed
}

// Origin is one creation: the syscall, the thread that made it, its user
// stack and when it returned.
type Origin struct {
	Syscall string    // "openat", "socket", "pipe2", "clone3", …
	PID     int       // the process that made the syscall: the Tracer's target
	TID     int       // the thread that made it
	PCs     []uintptr // user stack, innermost first, as return addresses (runtime.Callers' convention)
	Time    time.Time // when the syscall returned (wall clock, with a monotonic reading)

	// ownText: the target runs the current process's executable, so its
	// PCs plus textShift (the difference of the load addresses, for a PIE)
	// symbolise here.
	ownText   bool
	textShift uintptr
}

// Frames symbolises PCs with runtime.CallersFrames, inlined callers
// included. That needs the current process's executable: it holds when the
// target is the current process, or another process running the same
// executable file (a re-executed test binary); for any other process each
// frame has only PC set.
func (o Origin) Frames() []runtime.Frame {
	if len(o.PCs) == 0 {
		return nil
	}
	pcs := o.PCs
	switch {
	case o.PID == os.Getpid():
	case o.ownText:
		pcs = make([]uintptr, len(o.PCs))
		for i, pc := range o.PCs {
			pcs[i] = pc + o.textShift
		}
	default:
		out := make([]runtime.Frame, len(o.PCs))
		for i, pc := range o.PCs {
			out[i] = runtime.Frame{PC: pc}
		}
		return out
	}
	var out []runtime.Frame
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.PC != 0 || f.Function != "" {
			out = append(out, f)
		}
		if !more {
			return out
		}
	}
}

// String returns the syscall, the thread and the first frame outside the
// runtime, the standard library and golang.org/x/sys: "openat by tid 4242:
// example.com/pkg.load (/src/pkg/load.go:17)".
func (o Origin) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s by tid %d", o.Syscall, o.TID)
	frames := o.Frames()
	switch f, ok := userFrame(frames); {
	case ok:
		fmt.Fprintf(&b, ": %s (%s:%d)", f.Function, f.File, f.Line)
	case len(frames) > 0 && frames[0].Function == "":
		fmt.Fprintf(&b, " in pid %d at %#x", o.PID, frames[0].PC)
	case len(frames) == 0:
		b.WriteString(": no user stack")
	}
	return b.String()
}

// userFrame returns the first frame whose function is not part of the
// system (see isSystem).
func userFrame(frames []runtime.Frame) (runtime.Frame, bool) {
	for _, f := range frames {
		if f.Function != "" && !isSystem(f.Function) {
			return f, true
		}
	}
	return runtime.Frame{}, false
}

// isSystem reports whether a function name from runtime.Frame belongs to the
// runtime, the standard library (import paths with no dot in their first
// element: "os.OpenFile", "internal/poll.(*FD).Init") or the syscall
// wrappers of golang.org/x/sys; not "main.run",
// "command-line-arguments.run" or "example.com/pkg.Open".
func isSystem(fn string) bool {
	if strings.HasPrefix(fn, "golang.org/x/sys/") {
		return true
	}
	path := fn
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		path = fn[:i] // "example.com/pkg.(*T).M" → "example.com"; the first element is enough
	} else if i := strings.IndexByte(fn, '.'); i >= 0 {
		path = fn[:i] // "os.OpenFile" → "os"
	}
	first, _, _ := strings.Cut(path, "/")
	switch first {
	case "main", "command-line-arguments":
		return false
	}
	return !strings.Contains(first, ".")
}

// OwnFDs returns the descriptors the tracer holds in the calling process
// (its maps, program and link), so a checker can leave them out.
func (t *Tracer) OwnFDs() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		return nil
	}
	return t.t.fdNumbers()
}
