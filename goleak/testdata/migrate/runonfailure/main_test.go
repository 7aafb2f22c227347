package runonfailure

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Report leaks even when a test failed: a timeout often hides one.
	goleak.VerifyTestMain(m, goleak.RunOnFailure())
}
