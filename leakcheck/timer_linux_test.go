package leakcheck_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/leakcheck/go/leakcheck"
)

// A goroutine asleep past the settle window ends on its own within the
// timer bound: not a leak.
func TestGoroutineOnATimerIsClean(t *testing.T) {
	ft := runCheck(t, func() {
		go func() { time.Sleep(1500 * time.Millisecond) }()
	}, leakcheck.WithTimeout(300*time.Millisecond), leakcheck.WithResources(leakcheck.Goroutines))
	assert.Empty(t, ft.errorText(), "it wakes after 1.5 s, within the 10 s bound")
}

// TestScenarioForever leaks goroutines nothing can release (it runs in a
// child test binary): one in select{}, one blocked on a channel nothing
// else can reach.
func TestScenarioForever(t *testing.T) {
	scenario(t)
	t.Run("select", func(t *testing.T) {
		start := time.Now() // the cleanup registered first runs last: after the check
		t.Cleanup(func() { fmt.Printf("select{} failed after %s\n", time.Since(start).Round(time.Millisecond)) })
		leakcheck.Check(t, leakcheck.WithTimeout(5*time.Second), leakcheck.WithResources(leakcheck.Goroutines))
		go func() { select {} }()
	})
	t.Run("unreachable", func(t *testing.T) {
		start := time.Now()
		t.Cleanup(func() { fmt.Printf("unreachable failed after %s\n", time.Since(start).Round(time.Millisecond)) })
		leakcheck.Check(t, leakcheck.WithTimeout(3*time.Second), leakcheck.WithResources(leakcheck.Goroutines))
		ch := make(chan int)
		go func() { <-ch }()
	})
}

// A goroutine in select{} can never run again: the check fails at once,
// not at the end of its timeout. One blocked on a channel nothing can
// reach fails within the timeout, at once where the runtime proves it
// (Go 1.27; 1.26 with GOEXPERIMENT=goroutineleakprofile).
func TestGoroutineParkedForeverFailsFast(t *testing.T) {
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioForever$", "-test.v")
	assert.Contains(t, out, "--- FAIL: TestScenarioForever/select", out)
	assert.Contains(t, out, "[select (no cases)]", out)
	assert.Contains(t, out, "--- FAIL: TestScenarioForever/unreachable", out)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "failed after") {
			t.Log(line) // the figures for the record: select{} at once, not after 5 s
		}
	}
	if strings.Contains(out, "proved leaked") {
		assert.Contains(t, out, "[chan receive] at", out)
	}
}
