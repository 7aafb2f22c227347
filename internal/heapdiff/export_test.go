package heapdiff

// CaptureNow captures the heap profile without collecting first.
var CaptureNow = capture

// Scale is scale, for its table test.
var Scale = scale

// CountsFinalizers reports whether Collect reads the runtime's finalizer
// and cleanup counts.
func CountsFinalizers() bool { return readGC().counted }
