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
	// MinCollections is the fewest collections Collect runs. A sync.Pool
	// keeps what it held at one collection in its victim cache until the
	// next, and an object with a finalizer is resurrected by the collection
	// that finds it unreachable and freed by the one after its finalizer
	// ran: two collections drop both (see TestCollect).
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

// Collect forces garbage collections until the live heap stops shrinking,
// and returns how many it ran: at least MinCollections, then more while a
// collection freed memory or queued finalizers or cleanups (each needs
// another collection to free what it held), at most MaxCollections. After
// each one it lets the finalizers and cleanups it queued run.
//
// Forcing a collection runs finalizers, and finalizers close *os.File and
// net.Conn values nobody closed: snapshot descriptors and sockets before
// calling Collect, or a leaked descriptor disappears.
func Collect() int {
	q := queues()
	prev := Read().Bytes
	for i := 1; ; i++ {
		runtime.GC()
		now := queues()
		now.wait()
		live := Read().Bytes
		if i >= MaxCollections || (i >= MinCollections && live >= prev && now.queued() == q.queued()) {
			return i
		}
		q, prev = now, live
	}
}

// finalQueues holds the runtime's cumulative finalizer and cleanup counts
// (Go 1.26 and later; ok is false before).
type finalQueues struct {
	ok                                   bool
	finQueued, finDone, clQueued, clDone uint64
}

var queueNames = [4]string{
	"/gc/finalizers/queued:finalizers",
	"/gc/finalizers/executed:finalizers",
	"/gc/cleanups/queued:cleanups",
	"/gc/cleanups/executed:cleanups",
}

func queues() finalQueues {
	var s [4]metrics.Sample
	for i := range s {
		s[i].Name = queueNames[i]
	}
	metrics.Read(s[:])
	var v [4]uint64
	for i := range s {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return finalQueues{}
		}
		v[i] = s[i].Value.Uint64()
	}
	return finalQueues{ok: true, finQueued: v[0], finDone: v[1], clQueued: v[2], clDone: v[3]}
}

func (q finalQueues) queued() uint64 { return q.finQueued + q.clQueued }

// wait lets the finalizers and cleanups counted in q run: until the
// runtime has executed as many as were queued, or FinalizerWait.
func (q finalQueues) wait() {
	runtime.Gosched()
	if !q.ok {
		return
	}
	deadline := time.Now().Add(FinalizerWait)
	for d := 50 * time.Microsecond; ; d *= 2 {
		now := queues()
		if now.finDone >= q.finQueued && now.clDone >= q.clQueued {
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(d)
	}
}
