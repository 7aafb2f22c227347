package leakcheck_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/gostack"
	"github.com/leakcheck/go/leakcheck"
)

// Stacks of test goroutines as Go 1.26 prints them, in the moments a
// check's windows look at: parked in t.Parallel, released from it but not
// yet scheduled, running cleanups, and done (reporting to the parent).
const testGoroutines = `goroutine 6 [chan receive]:
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
created by testing.(*T).Run in goroutine 5
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

func testGoroutine(t *testing.T, id uint64) gostack.Goroutine {
	t.Helper()
	gs, err := gostack.ParseBytes([]byte(testGoroutines))
	require.NoError(t, err)
	for _, g := range gs {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("no goroutine %d in the fixture", id)
	return gostack.Goroutine{}
}

// A test released from t.Parallel but not yet scheduled is about to run its
// body: not parked. (Taken for parked, the sibling released with it, done
// first on a busy machine, was taken for a serial test.)
func TestParkedMeansBlockedInParallel(t *testing.T) {
	assert.True(t, leakcheck.ParkedInParallel(testGoroutine(t, 6)), "blocked in t.Parallel")
	assert.False(t, leakcheck.ParkedInParallel(testGoroutine(t, 8)), "released, runnable")
	assert.False(t, leakcheck.ParkedInParallel(testGoroutine(t, 7)), "running a cleanup")
}

// A test whose body and cleanups are over runs nothing of its own; one in
// its cleanups does, whichever of tRunner's deferred functions runs them.
func TestFinishedTestIsNotRunning(t *testing.T) {
	assert.True(t, leakcheck.FinishedTest(testGoroutine(t, 9)), "reporting to its parent")
	assert.False(t, leakcheck.FinishedTest(testGoroutine(t, 7)), "cleanups of a test without subtests")
	assert.False(t, leakcheck.FinishedTest(testGoroutine(t, 10)), "cleanups of a test with parallel subtests")
	assert.False(t, leakcheck.FinishedTest(testGoroutine(t, 6)), "parked")
	assert.Equal(t, "TestP.func1", leakcheck.TestFunction(testGoroutine(t, 6)))
	assert.Equal(t, "a test's cleanups (goroutine 7)", leakcheck.TestFunction(testGoroutine(t, 7)))
}
