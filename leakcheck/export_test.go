package leakcheck

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
