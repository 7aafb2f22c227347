package goleak_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// By default VerifyTestMain looks for leaks only after a successful run,
// as goleak does: a failing test's leak is not reported on top of it.
func TestVerifyTestMainSkipsFailedRun(t *testing.T) {
	out, code := runChild(t, "fails and leaks")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "the test fails")
	assert.Contains(t, out, "exit code 1\n")
	assert.NotContains(t, out, "leakcheck:")
}

// With RunOnFailure, VerifyTestMain reports the leak of a run whose tests
// failed, as goleak's main branch does.
func TestRunOnFailure(t *testing.T) {
	out, code := runChild(t, "fails and leaks, RunOnFailure")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "the test fails")
	assert.Contains(t, out, "exit code 1\n")
	assert.Contains(t, out, "leakcheck: 1 leaked after waiting ")
	assert.Contains(t, out, "1 × github.com/leakcheck/go/goleak_test.parkedInChild [chan receive], created by github.com/leakcheck/go/goleak_test.TestChildFailsAndLeaks")
}
