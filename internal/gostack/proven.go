package gostack

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"strconv"
	"sync"
)

// CanProve reports whether this runtime can prove goroutine leaks: whether
// runtime/pprof has the "goroutineleak" profile. It has in Go 1.27, and in
// Go 1.26 only when the binary was built with
// GOEXPERIMENT=goroutineleakprofile (runtime/pprof registers the profile
// only then); Go 1.25 has none. It is a map lookup and never panics.
func CanProve() bool { return pprof.Lookup("goroutineleak") != nil }

// proveMu keeps a leak-detecting cycle of ours from resetting the leaked
// marks between another caller's DetectLeaks and its dump.
var proveMu sync.Mutex

// DetectLeaks runs the runtime's goroutine leak detection and returns how
// many goroutines it proved leaked; ok is false, with nothing done, when the
// runtime cannot (CanProve).
//
// Detection is a garbage collection cycle (runtime/pprof's writeGoroutineLeak
// calls runtime.goroutineLeakGC, runtime/mgc.go) whose mark phase starts from
// the roots and the runnable goroutines only, treats the channels and sync
// objects that blocked goroutines wait on as untraced, and adds a blocked
// goroutine's stack to the marking only once one of the objects it waits on
// has been marked. Blocked goroutines left over at the fixed point wait only
// on objects nothing live can reach, so nothing can ever wake them; the cycle
// sets their status to leaked, and then marks their stacks as usual, so what
// they hold is kept. Detection can prove waits in "chan receive",
// "chan send", "select", "select (no cases)", the two "(nil chan)" states,
// "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
// "sync.WaitGroup.Wait" and "sync.Cond.Wait" (runtime.(*g).isMaybeRunnable).
// It never proves a goroutine that sleeps, waits for I/O or a system call,
// or waits on a channel reachable from a global, from a running or runnable
// goroutine's live stack, from a pending timer (time.After, time.Ticker, a
// context deadline, time.AfterFunc: the timer heap hangs off the Ps, a root)
// or from an object with a finalizer. Go 1.27 (not 1.26) leaves out the
// main goroutine parked in select {}.
//
// The proof is conservative: it can miss a leak, never invent one. Marking
// is per heap object, and the tiny allocator packs pointer-free objects
// under 16 bytes into one 16-byte block, so a goroutine blocked on a lone
// sync.Mutex (8 bytes) that shares its block with a live object is not
// proven; a mutex inside a struct with a pointer field is.
//
// What it costs and changes, measured and read in the runtime (see
// proven_test.go and BenchmarkScale):
//
//   - It is a full, forced collection (a gcTriggerCycle, as runtime.GC): it
//     runs even while debug.SetGCPercent(-1) has paused the collector.
//   - Unreachable objects are swept, so their finalizers and cleanups are
//     queued, and the finalizer goroutine runs them at once: runtime.GC
//     yields while it sweeps: an *os.File nothing referenced was already
//     closed when the profile's WriteTo returned (checked on Go 1.26 and
//     1.27), and TestDetectLeaksRunsFinalizers sees it closed with the
//     collector paused. Snapshot file descriptors before calling it.
//   - The leaked status sticks until the next leak-detecting cycle: every
//     later dump (All, Dumper) prints " (leaked)" for those goroutines, so
//     Goroutine.Leaked and Header.Leaked report it; leaked goroutines lose
//     their ", N minutes" (the runtime prints it only for waiting ones).
//   - A goroutineleak profile written elsewhere in the process at the same
//     time resets the marks at its cycle's start; calls through this package
//     are serialized.
func DetectLeaks() (n int, ok bool, err error) {
	proveMu.Lock()
	defer proveMu.Unlock()
	return detectLeaks()
}

func detectLeaks() (int, bool, error) {
	p := pprof.Lookup("goroutineleak")
	if p == nil {
		return 0, false, nil
	}
	var w totalWriter
	if err := p.WriteTo(&w, 1); err != nil {
		return 0, true, fmt.Errorf("gostack: goroutineleak profile: %w", err)
	}
	n, err := w.total()
	if err != nil {
		return 0, true, err
	}
	return n, true, nil
}

// Proven runs DetectLeaks and returns the goroutines it proved leaked,
// parsed from a full dump taken right after (with d, reused, or a new Dumper
// when d is nil), sorted by ID. ok is false when the runtime cannot prove
// leaks (CanProve). With nothing proven, no dump is taken.
//
// Proven goroutines may predate the caller's baseline: pick the new ones by
// ID (NewSinceIDs).
func Proven(d *Dumper) (gs []Goroutine, ok bool, err error) {
	proveMu.Lock()
	defer proveMu.Unlock()
	n, ok, err := detectLeaks()
	if !ok || err != nil || n == 0 {
		return nil, ok, err
	}
	if d == nil {
		d = new(Dumper)
	}
	d.Take()
	gs, err = d.Leaked()
	return gs, true, err
}

// totalWriter keeps the first line of a debug=1 profile,
// "goroutineleak profile: total N", and discards the rest.
type totalWriter struct {
	first []byte
	done  bool
}

func (w *totalWriter) Write(p []byte) (int, error) {
	if !w.done {
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			w.first = append(w.first, p[:i]...)
			w.done = true
		} else if len(w.first) < 256 {
			w.first = append(w.first, p...)
		}
	}
	return len(p), nil
}

func (w *totalWriter) total() (int, error) {
	s, ok := bytes.CutPrefix(w.first, []byte("goroutineleak profile: total "))
	if ok {
		if n, err := strconv.Atoi(string(s)); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("gostack: goroutineleak profile starts %q, want %q", w.first, "goroutineleak profile: total N")
}
