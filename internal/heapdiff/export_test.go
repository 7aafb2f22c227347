package heapdiff

// CaptureNow captures the heap profile without collecting first.
var CaptureNow = capture

// Scale is scale, for its table test.
var Scale = scale
