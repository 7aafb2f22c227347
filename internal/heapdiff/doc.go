// Package heapdiff measures what create/destroy cycles leave on the heap,
// for leakcheck's heap kind: the live heap after forced collections before
// and after rounds of cycles (Measure, Run), and, when it grew, the
// allocation sites that hold the growth (Capture, Diff), with the two heap
// profiles for go tool pprof -diff_base.
//
// The numbers come from runtime/metrics right after Collect:
// /gc/heap/live:bytes is what the last collection marked, exact, and
// /gc/heap/objects:objects counts the objects. Collect runs runtime.GC()
// until the heap stops shrinking: two collections at least, because a
// sync.Pool drops what it held only at the second, and an object with a
// finalizer is freed by the collection after the one that ran it (see
// TestCollect for the cases and how many collections each needs).
//
// Sites come from runtime.MemProfile, which describes the heap as of the
// last completed collection, at a sampling rate (runtime.MemProfileRate)
// raised only while profiling and restored after (SetRate, Window). Run
// profiles only when every round retained, so a clean run costs its
// collections and nothing else.
//
// # Ordering with other kinds
//
// Forcing a collection runs finalizers, and a finalizer closes an *os.File
// or net.Conn nobody closed: take every descriptor, socket and thread
// snapshot a leak verdict depends on before calling Collect, Measure,
// Capture, Begin, End or Run, or a leaked descriptor is closed by the
// measurement and the leak goes unseen.
//
// # Limits
//
// The heap is the process's: goroutines running alongside (a parallel test)
// are measured too. Pointer-free allocations under 16 bytes share a 16-byte
// block and are counted, and profiled, once per block. A cache bounded
// above (Warmup+1)×n entries is still filling during the measured rounds and
// reads as retained; raise Warmup or n.
package heapdiff
