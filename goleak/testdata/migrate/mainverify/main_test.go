package mainverify

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The default cache's janitor runs for the life of the process.
		goleak.IgnoreTopFunction("example.com/app/mainverify.(*Cache).janitor"),
	)
}
