package leakcheck

import (
	"time"

	"github.com/leakcheck/go/internal/gostack"
)

// Test-only access to unexported knobs.
var (
	AllowGCDuringSettle = allowGCDuringSettle
	TestDeadline        = testDeadline
	SoakProgressEvery   = soakProgressEvery
	ParkedInParallel    = parkedInParallel
	FinishedTest        = testFinished
	TestFunction        = testFunction
)

// ResetSaidOnce forgets which "said once" notes were logged, so a test can
// observe one whatever ran before it.
func ResetSaidOnce() { unsupportedOnce.Clear() }

// StallCollections makes the verdict's garbage collection block until the
// returned release is called, and the verdict wait only patience for it.
func StallCollections(patience time.Duration) (release func()) {
	stall := make(chan struct{})
	prevGC, prevPatience := runGC, collectPatience
	runGC, collectPatience = func() { <-stall }, patience
	return func() {
		close(stall)
		runGC, collectPatience = prevGC, prevPatience
	}
}

// CollectionsRunning counts the verdict collections still running.
func CollectionsRunning() int32 { return collectors.Load() }

// DefaultGoroutineFilter reports whether a check drops g by default, and
// the name it is counted under ("" when not counted).
func DefaultGoroutineFilter(g gostack.Goroutine) (dropped bool, countedAs string) {
	for _, f := range defaultGoroutineFilters {
		if f.drop(&g) {
			return true, f.name
		}
	}
	return false, ""
}
