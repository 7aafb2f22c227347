package gostack

import "strings"

// RuntimeOwned reports whether g belongs to the Go runtime, the testing
// package or os/signal, and so is never a test's leak even when it first
// appears during the test. It covers everything goleak v1.3.0's default
// filters do (isTestStack, isSyscallStack, isStdLibStack, isTraceStack) and
// the waits of testing's parallel machinery that goleak leaves out:
//
//   - testing parked in "chan receive" with one of these on top:
//     testing.(*T).Run (a parent waiting for its subtest),
//     testing.(*T).Parallel (a parallel test waiting for its parent to
//     finish), testing.(*testState).waitParallel (waiting for a -parallel
//     slot), testing.tRunner.func1 and testing.fRunner.func1 (a finished
//     test waiting for its parallel subtests), testing.runTests and the
//     pre-Go 1.7 testing.RunTests (the main goroutine), testing.runFuzzing
//     and testing.runFuzzTests (fuzzing waiting for its targets). The state
//     is part of the rule: a goroutine that merely has one of these frames
//     while doing something else is not exempt.
//   - os/signal's dispatcher, started by the first signal.Notify and never
//     stopped: os/signal.signal_recv or os/signal.loop on top.
//   - the runtime's signal-mask goroutine (runtime.ensureSigM anywhere;
//     printed only under GOTRACEBACK=system).
//   - a goroutine in a system call whose stack shows runtime.goexit, the
//     shape of a cgo callback's goroutine (golang/go#16714); printed that way
//     only at GOTRACEBACK=system and above.
//   - the execution-trace reader started by runtime/trace.Start: tracing
//     is process-wide and its owner stops it. goleak looks for
//     runtime.ReadTrace, the Go 1.26 frame; Go 1.25 shows
//     runtime/trace.runtime_readTrace instead (see testdata/go1.25.txt), so
//     both count.
//
// The -timeout alarm of the testing package is a time.AfterFunc timer, not a
// goroutine, until it fires (and then the test binary panics); it needs no
// rule.
//
// A Goroutine with an empty State (Group.Goroutine) never matches the
// state-dependent rules.
func RuntimeOwned(g Goroutine) bool {
	top := g.TopFunction()
	if testingWaits[top] && strings.HasPrefix(g.State, "chan receive") {
		return true
	}
	if top == "os/signal.signal_recv" || top == "os/signal.loop" {
		return true
	}
	if g.HasFunction("runtime.ensureSigM") || g.HasFunction("runtime.ReadTrace") ||
		g.HasFunction("runtime/trace.runtime_readTrace") {
		return true
	}
	return strings.HasPrefix(g.State, "syscall") && g.HasFunction("runtime.goexit")
}

// testingWaits are the functions the testing package parks its own
// goroutines in; see RuntimeOwned.
var testingWaits = map[string]bool{
	"testing.(*T).Run":                  true,
	"testing.(*T).Parallel":             true,
	"testing.(*testState).waitParallel": true,
	"testing.tRunner.func1":             true,
	"testing.fRunner.func1":             true,
	"testing.runTests":                  true,
	"testing.RunTests":                  true,
	"testing.runFuzzing":                true,
	"testing.runFuzzTests":              true,
}
