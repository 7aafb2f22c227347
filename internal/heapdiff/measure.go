package heapdiff

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// Sample is the live heap at one moment, as runtime/metrics reports it right
// after Collect.
type Sample struct {
	// Bytes is /gc/heap/live:bytes: the heap memory of the objects the last
	// collection marked, each counted at its size class (a 4000-byte slice
	// counts 4096). Right after runtime.GC() it is exactly what survived.
	Bytes uint64
	// Objects is /gc/heap/objects:objects: heap objects live or not yet
	// swept. runtime.GC() sweeps before it returns, so right after it this
	// is the live objects, give or take the allocations since. Pointer-free
	// allocations under 16 bytes share one 16-byte block and count once.
	Objects uint64
}

// Sub returns what s holds beyond base (negative when it holds less).
func (s Sample) Sub(base Sample) (bytes, objects int64) {
	return int64(s.Bytes - base.Bytes), int64(s.Objects - base.Objects)
}

// Measure runs Collect and reads the live heap.
func Measure() Sample {
	Collect()
	return Read()
}

// Read returns the live heap as of the last completed collection, without
// collecting: Bytes is what that collection marked, Objects counts the
// allocations since too.
func Read() Sample {
	var s [2]metrics.Sample
	s[0].Name = "/gc/heap/live:bytes"
	s[1].Name = "/gc/heap/objects:objects"
	metrics.Read(s[:])
	return Sample{Bytes: s[0].Value.Uint64(), Objects: s[1].Value.Uint64()}
}

// Collection bounds for Collect.
const (
	// MinCollections is the fewest collections Collect runs (one more on
	// Go 1.25, see Collect). A sync.Pool keeps what it held at one
	// collection in its victim cache until the next, and an object with a
	// finalizer is resurrected by the collection that finds it unreachable
	// and freed by the one after its finalizer ran: two collections drop
	// both (see TestCollect).
	MinCollections = 2
	// MaxCollections bounds Collect when the heap keeps shrinking (chains
	// of finalizers free one link per collection) or other goroutines keep
	// allocating.
	MaxCollections = 6
	// FinalizerWait bounds how long Collect waits, after each collection,
	// for the finalizers and cleanups it queued to run (Go 1.26 and later,
	// which count them in runtime/metrics; before, Collect yields once).
	FinalizerWait = 50 * time.Millisecond
)

// Collect forces garbage collections until the heap has nothing left for
// another collection to free, and returns how many it ran: at least
// MinCollections, then more while the last one shrank the live heap or
// left finalizers or cleanups to run (each needs another collection to
// free what it held), at most MaxCollections. After each one it lets the
// finalizers and cleanups it queued run.
//
// Go 1.26 and later count queued finalizers and cleanups in runtime/metrics.
// Go 1.25 does not, and a shrink can hide behind what the finalizer
// goroutine allocates when it first runs, so there Collect runs one
// collection more (three at least): enough for a finalizer and one it
// released, not for longer chains.
//
// Forcing a collection runs finalizers, and finalizers close *os.File and
// net.Conn values nobody closed: snapshot descriptors and sockets before
// calling Collect, or a leaked descriptor disappears.
func Collect() int {
	prev := readGC()
	for i := 1; ; i++ {
		runtime.GC()
		now := readGC()
		now.wait()
		least := MinCollections
		if !now.counted {
			least++
		}
		if i >= MaxCollections || (i >= least && !now.more(prev)) {
			return i
		}
		prev = now
	}
}

// gcState is what Collect reads after a collection: the live heap, and the
// finalizers and cleanups queued and run so far (counted is false before
// Go 1.26, which does not count them).
type gcState struct {
	live                                 uint64
	counted                              bool
	finQueued, finDone, clQueued, clDone uint64
}

var gcNames = [...]string{
	"/gc/heap/live:bytes",
	"/gc/finalizers/queued:finalizers",
	"/gc/finalizers/executed:finalizers",
	"/gc/cleanups/queued:cleanups",
	"/gc/cleanups/executed:cleanups",
}

func readGC() gcState {
	var s [len(gcNames)]metrics.Sample
	for i := range s {
		s[i].Name = gcNames[i]
	}
	metrics.Read(s[:])
	var v [len(gcNames)]uint64
	counted := true
	for i := range s {
		if s[i].Value.Kind() != metrics.KindUint64 {
			counted = false
			continue
		}
		v[i] = s[i].Value.Uint64()
	}
	return gcState{live: v[0], counted: counted, finQueued: v[1], finDone: v[2], clQueued: v[3], clDone: v[4]}
}

// more reports whether another collection may free something: the one
// that led from prev to s shrank the heap, or queued finalizers or
// cleanups.
func (s gcState) more(prev gcState) bool {
	return s.live < prev.live || s.finQueued+s.clQueued != prev.finQueued+prev.clQueued
}

// wait lets the finalizers and cleanups counted in s run: until the
// runtime has executed as many as were queued, or FinalizerWait. Uncounted,
// it yields once, which runs the finalizer goroutine the collection woke.
func (s gcState) wait() {
	runtime.Gosched()
	if !s.counted {
		return
	}
	deadline := time.Now().Add(FinalizerWait)
	for d := 50 * time.Microsecond; ; d *= 2 {
		now := readGC()
		if now.finDone >= s.finQueued && now.clDone >= s.clQueued {
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(d)
	}
}
