// Package gostack reads and collects the goroutines of the current process
// for leakcheck.
//
// Three layers, cheapest first:
//
//   - TakeCensus counts goroutines by stack (program counters, hashed, never
//     symbolized) from runtime.GoroutineProfile, which does not stop the world
//     for the whole collection. Census.Grew answers "is there anything new
//     since the baseline?" at about 1µs per goroutine; see Census for what
//     it can and cannot see.
//   - TakeLabeledCensus is the same census keyed by stack and pprof labels,
//     from the goroutine profile at debug=1, so goroutines can be counted per
//     label (leakcheck labels each checked test's goroutine).
//   - All takes the full text dump (runtime.Stack with all=true, which stops
//     the world while it prints) and parses it: goroutine IDs, states,
//     frames, creators. It describes what leaked; NewSince picks the
//     goroutines of a dump that a census found to be new.
//
// Parse and ParseBytes are the pure parser of that text, for Go 1.25 to 1.27
// output. Goroutine's TopFunction, HasFunction and CreatedBy compare exactly
// what goleak's IgnoreTopFunction, IgnoreAnyFunction and IgnoreCreatedBy do.
// RuntimeOwned names goroutines that belong to the runtime, the testing
// package or os/signal and are never a test's leak.
package gostack
