// Package gostack reads and collects the goroutines of the current process
// for leakcheck.
//
// Cheapest first (figures at 100 000 parked goroutines on 2 cores, see
// bench_test.go and scale_test.go):
//
//   - TakeCensus counts goroutines by stack (program counters, hashed, never
//     symbolized) from runtime.GoroutineProfile, which does not stop the
//     world for the whole collection: about 1.2µs per goroutine. Census.Grew
//     answers "is there anything new since the baseline?"; a clean check
//     (two censuses and Grew) is over 20× cheaper than goleak.Find with
//     goleak.IgnoreCurrent. See Census for the one change it cannot see.
//   - TakeLabeledCensus is the same census keyed by stack and pprof labels,
//     from the goroutine profile at debug=1, so goroutines can be counted per
//     label (leakcheck labels each checked test's goroutine, and goroutines
//     inherit their creator's labels).
//   - IDs takes the full text dump (runtime.Stack with all=true, which stops
//     the world while it prints) and reads only the goroutine IDs: the exact
//     identity baseline, when affordable.
//   - A Dumper takes that dump into one buffer it keeps between looks and
//     reads the IDs from the header lines without allocating, so a settle
//     loop polling with the collector paused holds about one dump's worth
//     of memory however often it looks. Dumper.NewSince parses only the
//     goroutines a baseline of IDs lacks, each once while its text stays
//     the same. The dump is the whole cost (BenchmarkScale on 2 shared
//     cores: 3 to 5µs per goroutine at stack depth 0, 35 to 55µs at depth
//     50, about 1µs a frame; the header scan is 5% of it).
//   - All takes the full dump and parses it: IDs, states, frames, creators.
//     It describes what leaked. NewSinceIDs picks the goroutines of a dump
//     that are not in a baseline of IDs (exact); NewSince picks those that a
//     census found to be new (exact for stacks that did not exist at the
//     baseline, by newest ID otherwise).
//
// CanProve, DetectLeaks and Proven use the runtime's goroutine leak detector
// (the goroutineleak profile: Go 1.27, Go 1.26 built with
// GOEXPERIMENT=goroutineleakprofile): a forced GC cycle that proves which
// blocked goroutines nothing live can ever wake, and marks them "(leaked)"
// in every later dump. It runs finalizers. Classify says from a dump alone
// whether a goroutine can never run again, waits for a timer that will fire
// (time.Sleep, with its bound), or cannot be told apart; select and channel
// waits on timers print like any other.
//
// Parse and ParseBytes are the pure parser of that text, for Go 1.25 to 1.27
// output. Goroutine's TopFunction, HasFunction and CreatedBy compare exactly
// what goleak's IgnoreTopFunction, IgnoreAnyFunction and IgnoreCreatedBy do.
// RuntimeOwned names goroutines that belong to the runtime, the testing
// package or os/signal and are never a test's leak.
package gostack
