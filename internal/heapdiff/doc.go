// Package heapdiff measures what create/destroy cycles leave on the heap,
// for leakcheck's heap kind: the live heap after forced collections before
// and after rounds of cycles (Measure, Run), and, when it grew, the
// allocation sites that hold the growth (Capture, Diff), with the two heap
// profiles for go tool pprof -diff_base.
//
//	res, err := heapdiff.Run(200, round, heapdiff.Defaults())
//	if err == nil && res.Leaked() {
//		fmt.Println(res) // heap: retained 4151 B and 2 objects per cycle (…)
//		                 //   4096 B in 1 object per cycle at pkg.(*Registry).Open (/src/registry.go:31)
//		res.Profiled.WriteProfiles(dir)
//	}
//
// The numbers come from runtime/metrics right after Collect:
// /gc/heap/live:bytes is what the last collection marked, exact, and
// /gc/heap/objects:objects counts the objects. Collect runs runtime.GC()
// until the heap has nothing left for another collection to free: two
// collections at least, because a sync.Pool drops what it held only at the
// second, and an object with a finalizer is freed by the collection after
// the one that queued its finalizer (TestCollect has the cases and how many
// collections each needs).
//
// Sites come from runtime.MemProfile, which describes the heap as of the
// last completed collection (runtime.GC() publishes it before returning),
// at a sampling rate (runtime.MemProfileRate) raised only while profiling
// and restored after (SetRate, Window). Run profiles only when every round
// retained, so a clean run costs its collections and nothing else.
//
// # Verdict and defaults
//
// A round of n cycles retains when its live heap grew by more than
// Tolerance×n + Slack (Retains); Run reports a leak only when every one of
// DefaultRounds rounds, after DefaultWarmup unmeasured ones, retains, and
// then a profiled round too once the sites of DefaultIgnores are taken off
// (the testing package's t.Log buffer, a new OS thread's 5.5 KiB). The
// defaults, 16 B per cycle and 8 KiB per round, come from these
// measurements (2 shared cores, load 3 to 13, Go 1.25 to 1.27):
//
//   - a clean cycle with ~10 KiB of temporaries in 40 objects, n=200: 1 000
//     runs (TestNoiseClean -count=20), none over the limit (11 392 B); the
//     worst round kept 2048 B, most kept 0 to 600 B. Two Measures in a row differ by 0 B, except about once in
//     200 pairs by 5576 B: the runtime started an OS thread (m, g0, gsignal,
//     profiling stacks) and never frees it. The slack covers one per round.
//   - the smallest leak caught is Tolerance + Slack/n per cycle: at n=200,
//     64 B per cycle 20 times of 20 and 48 B never; at n=20, 512 B and not
//     256 B (HEAPDIFF_SWEEP=n go test -run TestSmallestCaught -v).
//
// # Cost
//
// On the same machine (go test -bench . -benchtime 20x): Measure is two
// collections (three on Go 1.25), 5 to 10 ms with a small heap and 11 to 13
// ms with 64 MiB of 1 KiB objects; with GOMAXPROCS=1 it is 0.3 ms and 5 ms,
// so on a busy machine the time is mostly waiting for the collector's
// second thread. A measurement with both profiles at rate 1 costs 57 to 117
// ms. A cycle of n=200 that takes 0.8 to 1.7 ms costs 49 to 66 ms with the
// heap kind on and clean (warm-up and three rounds, four Measures), and 230
// to 490 ms when it leaks (two more rounds, at rate 1, and two profiles).
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
// reads as retained; raise Warmup or n. What the code under test keeps is
// often reachable only through the round's closure: keep it reachable
// until the last measurement (Run does; a Window's caller must, with
// runtime.KeepAlive). Profile stacks keep 32 frames. Raising the rate
// leaves samples taken at rate 1 in the process's heap profile for as long
// as they live, which skews a -test.memprofile written at the end.
package heapdiff
