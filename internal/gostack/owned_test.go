package gostack

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRuntimeOwnedFixture(t *testing.T) {
	for _, file := range []string{"go1.25.txt", "go1.26.txt", "go1.27.txt"} {
		t.Run(file, func(t *testing.T) {
			owned := map[string]bool{}
			for _, g := range readFixture(t, file) {
				if RuntimeOwned(g) {
					owned[g.TopFunction()] = true
				}
			}
			// Exactly the testing package's waits, os/signal and the trace
			// reader; every goroutine the generator started itself is a leak.
			traceReader := "runtime.ReadTrace"
			if file == "go1.25.txt" {
				traceReader = "runtime/trace.runtime_readTrace"
			}
			assert.Equal(t, map[string]bool{
				"testing.(*T).Run":      true,
				"testing.(*T).Parallel": true,
				"os/signal.signal_recv": true,
				traceReader:             true,
			}, owned)
		})
	}
}

func TestRuntimeOwnedRules(t *testing.T) {
	frames := func(fns ...string) []Frame {
		var out []Frame
		for _, fn := range fns {
			out = append(out, Frame{Func: fn, File: "/src/x.go", Line: 1})
		}
		return out
	}
	tests := []struct {
		name string
		g    Goroutine
		want bool
	}{
		{"parent waiting in t.Run", Goroutine{State: "chan receive", Frames: frames("testing.(*T).Run", "testing.runTests.func1")}, true},
		{"t.Run frame but running, not waiting", Goroutine{State: "running", Frames: frames("testing.(*T).Run")}, false},
		{"t.Run parked for minutes", Goroutine{State: "chan receive", Wait: 600e9, Frames: frames("testing.(*T).Run")}, true},
		{"parallel test waiting for its parent", Goroutine{State: "chan receive", Frames: frames("testing.(*T).Parallel")}, true},
		{"waiting for a -parallel slot", Goroutine{State: "chan receive", Frames: frames("testing.(*testState).waitParallel", "testing.(*T).Parallel")}, true},
		{"finished test waiting for parallel subtests", Goroutine{State: "chan receive", Frames: frames("testing.tRunner.func1", "testing.tRunner")}, true},
		{"fuzzing", Goroutine{State: "chan receive", Frames: frames("testing.runFuzzing")}, true},
		{"user code below testing frames", Goroutine{State: "chan receive", Frames: frames("main.worker", "testing.(*T).Run")}, false},
		{"os/signal loop", Goroutine{State: "syscall", Frames: frames("os/signal.signal_recv", "os/signal.loop")}, true},
		{"os/signal loop, older top", Goroutine{State: "syscall", Frames: frames("os/signal.loop")}, true},
		{"ensureSigM", Goroutine{State: "select", Frames: frames("runtime.ensureSigM.func1")}, false},
		{"ensureSigM itself", Goroutine{State: "select", Frames: frames("runtime.gopark", "runtime.ensureSigM")}, true},
		{"trace reader, Go 1.25", Goroutine{State: "trace reader (blocked)", Frames: frames("runtime/trace.runtime_readTrace", "runtime/trace.(*traceMultiplexer).startLocked.func1")}, true},
		{"trace reader", Goroutine{State: "trace reader (blocked)", Frames: frames("runtime.ReadTrace", "runtime/trace.Start.func1")}, true},
		{"cgo callback in syscall", Goroutine{State: "syscall", Frames: frames("runtime.cgocallbackg", "runtime.goexit")}, true},
		{"syscall without goexit", Goroutine{State: "syscall", Frames: frames("syscall.Syscall", "main.read")}, false},
		{"census group: no state, so no testing rule", Group{Frames: frames("testing.(*T).Run")}.Goroutine(), false},
		{"census group: os/signal needs no state", Group{Frames: frames("os/signal.signal_recv")}.Goroutine(), true},
		{"no frames", Goroutine{State: "chan receive"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, RuntimeOwned(tt.g))
		})
	}
}

// A goroutine caught after its function returned shows only the runtime's
// exit path; one anywhere else does not, even when the runtime's frames
// are all it shows.
func TestExiting(t *testing.T) {
	gs, err := ParseBytes([]byte(`goroutine 5 [runnable]:
runtime.goexit1()
	/usr/local/go/src/runtime/proc.go:4475 +0x1c
runtime.goexit0(...)
created by example.com/pkg.startWorker in goroutine 1
	/tmp/pkg/pkg_test.go:31 +0x8d

goroutine 6 [chan receive]:
example.com/pkg.startWorker.func1()
	/tmp/pkg/pkg_test.go:31 +0x25
created by example.com/pkg.startWorker in goroutine 1
	/tmp/pkg/pkg_test.go:31 +0x1a

goroutine 7 [runnable]:
runtime.Gosched()
	/usr/local/go/src/runtime/proc.go:353 +0x14
created by example.com/pkg.spin in goroutine 1
	/tmp/pkg/pkg_test.go:40 +0x1a
`))
	assert.NoError(t, err)
	if assert.Len(t, gs, 3) {
		assert.True(t, gs[0].Exiting(), "its function returned")
		assert.False(t, gs[1].Exiting(), "blocked in its function")
		assert.False(t, gs[2].Exiting(), "in the runtime, not on its way out")
	}
	assert.False(t, Goroutine{}.Exiting(), "no frames: not known to be exiting")
}
