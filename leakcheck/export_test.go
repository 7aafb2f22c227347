package leakcheck

// Test-only access to unexported knobs.
var (
	AllowGCDuringSettle = allowGCDuringSettle
	TestDeadline        = testDeadline
	SoakProgressEvery   = soakProgressEvery
)
