package leakcheck_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/gostack"
	"github.com/leakcheck/go/leakcheck"
)

// Stacks of test goroutines as Go 1.26 prints them, in the moments a
// check's windows look at: a parent in its body (5) and one whose body has
// returned (11); subtests parked in t.Parallel (6), on their way into it
// (12), released from it but not yet scheduled (8), running cleanups (7,
// 10), and done, reporting to the parent (9).
const testDump = `goroutine 5 [chan receive]:
testing.(*T).Run(0x2235408366c8, {0x594938?, 0x4eb260?}, 0x5940a0)
	/usr/local/go/src/testing/testing.go:2109 +0x4e5
example.com/p.TestP(0x2235408366c8)
	/tmp/p/x_test.go:14 +0x4c
testing.tRunner(0x2235408366c8, 0x593ff0)
	/usr/local/go/src/testing/testing.go:2036 +0xea
created by testing.(*T).Run in goroutine 1
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 11 [chan receive]:
testing.tRunner.func1()
	/usr/local/go/src/testing/testing.go:1974 +0x3a5
testing.tRunner(0x223540837208, 0x593ff8)
	/usr/local/go/src/testing/testing.go:2042 +0x114
created by testing.(*T).Run in goroutine 1
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 12 [runnable]:
testing.(*T).Parallel(0x223540837448)
	/usr/local/go/src/testing/testing.go:1802 +0x1f0
example.com/p.TestP.func4(0x223540837448?)
	/tmp/p/x_test.go:24 +0x13
testing.tRunner(0x223540837448, 0x5940c0)
	/usr/local/go/src/testing/testing.go:2036 +0xea
created by testing.(*T).Run in goroutine 5
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 6 [chan receive]:
testing.(*T).Parallel(0x223540836908)
	/usr/local/go/src/testing/testing.go:1803 +0x230
example.com/p.TestP.func1(0x223540836908?)
	/tmp/p/x_test.go:13 +0x13
testing.tRunner(0x223540836908, 0x594098)
	/usr/local/go/src/testing/testing.go:2036 +0xea
created by testing.(*T).Run in goroutine 5
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 8 [runnable]:
testing.(*T).Parallel(0x223540836b48)
	/usr/local/go/src/testing/testing.go:1803 +0x230
example.com/p.TestP.func3(0x223540836b48?)
	/tmp/p/x_test.go:20 +0x13
testing.tRunner(0x223540836b48, 0x5940a8)
	/usr/local/go/src/testing/testing.go:2036 +0xea
created by testing.(*T).Run in goroutine 11
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 7 [running]:
example.com/p.TestP.func2.1()
	/tmp/p/x_test.go:15 +0x3d
testing.(*common).Cleanup.func1()
	/usr/local/go/src/testing/testing.go:1317 +0x109
testing.(*common).runCleanup(0x223540836b48, 0x5940a8?)
	/usr/local/go/src/testing/testing.go:1667 +0xea
testing.tRunner.func2()
	/usr/local/go/src/testing/testing.go:2030 +0x25
testing.tRunner(0x223540836b48, 0x5940a0)
	/usr/local/go/src/testing/testing.go:2042 +0x114
created by testing.(*T).Run in goroutine 5
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 9 [runnable]:
testing.tRunner.func1.1()
	/usr/local/go/src/testing/testing.go:1951 +0x4d
testing.tRunner.func1()
	/usr/local/go/src/testing/testing.go:2017 +0x4f1
testing.tRunner(0x223540836d88, 0x5940b0)
	/usr/local/go/src/testing/testing.go:2042 +0x114
created by testing.(*T).Run in goroutine 5
	/usr/local/go/src/testing/testing.go:2101 +0x4c5

goroutine 10 [running]:
testing.(*common).runCleanup(0x223540836fc8, 0x0?)
	/usr/local/go/src/testing/testing.go:1667 +0xea
testing.tRunner.func1()
	/usr/local/go/src/testing/testing.go:1989 +0x3a5
testing.tRunner(0x223540836fc8, 0x5940b8)
	/usr/local/go/src/testing/testing.go:2042 +0x114
created by testing.(*T).Run in goroutine 5
	/usr/local/go/src/testing/testing.go:2101 +0x4c5
`

func testGoroutines(t *testing.T) map[uint64]gostack.Goroutine {
	t.Helper()
	gs, err := gostack.ParseBytes([]byte(testDump))
	require.NoError(t, err)
	byID := map[uint64]gostack.Goroutine{}
	for _, g := range gs {
		byID[g.ID] = g
	}
	return byID
}

// A test in t.Parallel is parked while its parent's body runs, blocked or
// on its way in; released from the wait but not yet scheduled, it is about
// to run its body. (Taken for parked, the sibling released with it, done
// first on a busy machine, was taken for a serial test; taken for running
// on its way in, the serial tests after it were taken for its overlap.)
func TestParkedInParallel(t *testing.T) {
	gs := testGoroutines(t)
	assert.True(t, leakcheck.ParkedInParallel(gs[6], gs), "blocked in t.Parallel")
	assert.True(t, leakcheck.ParkedInParallel(gs[12], gs), "on its way in, its parent's body running")
	assert.False(t, leakcheck.ParkedInParallel(gs[8], gs), "released, runnable")
	assert.False(t, leakcheck.ParkedInParallel(gs[7], gs), "running a cleanup")
	assert.False(t, leakcheck.ParkedInParallel(gs[5], gs), "a parent in t.Run")
}

// A test whose body and cleanups are over runs nothing of its own; one in
// its cleanups does, whichever of tRunner's deferred functions runs them.
func TestFinishedTestIsNotRunning(t *testing.T) {
	gs := testGoroutines(t)
	assert.True(t, leakcheck.FinishedTest(gs[9]), "reporting to its parent")
	assert.False(t, leakcheck.FinishedTest(gs[7]), "cleanups of a test without subtests")
	assert.False(t, leakcheck.FinishedTest(gs[10]), "cleanups of a test with parallel subtests")
	assert.False(t, leakcheck.FinishedTest(gs[6]), "parked")
	assert.Equal(t, "TestP.func1", leakcheck.TestFunction(gs[6]))
	assert.Equal(t, "a test's cleanups (goroutine 7)", leakcheck.TestFunction(gs[7]))
}
