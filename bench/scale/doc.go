// Package scale measures whole checks at the sizes where a settle loop
// breaks: tens of thousands of goroutines with deep stacks, a descriptor
// table near its limit. Each case runs a real test, in a child process of
// the test binary with its own -test.timeout, that holds the population
// and then runs leakcheck.Check around a clean or a leaky body; the parent
// asserts the verdict (a clean body passes, a leaky one fails with a report
// that names its goroutine and its file, never "panic: test timed out") and
// records the child's wall time and peak RSS.
//
// By default the cases are small, so the suite runs them in CI. The full
// table of the reliability issue (10k and 100k goroutines at depth 0 and 50;
// 5k, 10k and 19.9k descriptors):
//
//	LEAKCHECK_SCALE=full go test -run=TestScale -v -timeout=60m ./bench/scale
package scale
