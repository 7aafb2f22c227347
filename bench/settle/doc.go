// Package settle holds the settle-latency benchmarks: how long after a test
// body ends a clean check passes, when the test's teardown finishes a little
// late (a goroutine that exits 50 ms after the body, as a server's
// connection handler does after Close). The goal is at most the lateness
// plus 20 ms: a check that sleeps in long fixed steps would add its step to
// every such test.
//
//	go test -run='^$' -bench=Settle -benchtime=41x ./bench/settle
//
// Each benchmark reports the median and 90th percentile of that latency
// (p50-ms, p90-ms) over its iterations. bench/run.sh runs them alternately
// and puts the figures in bench/RESULTS.md.
package settle
