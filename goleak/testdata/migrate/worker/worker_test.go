package worker

import (
	"testing"

	"go.uber.org/goleak"
)

func TestPoolStopsWorkers(t *testing.T) {
	defer goleak.VerifyNone(t)

	p := Start(4)
	done := make(chan struct{})
	p.Do(func() { close(done) })
	<-done
	p.Stop()
}

// Leaks: the pool is stopped only after VerifyNone has looked.
func TestPoolWithoutStop(t *testing.T) {
	defer goleak.VerifyNone(t)

	p := Start(2)
	t.Cleanup(p.Stop)
}

func TestPoolIgnoreTopFunction(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("example.com/app/worker.(*Pool).work"))

	p := Start(2)
	t.Cleanup(p.Stop)
}

func TestPoolIgnoreAnyFunction(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreAnyFunction("example.com/app/worker.run"))

	p := Start(1)
	release := make(chan struct{})
	started := make(chan struct{})
	p.Do(func() { close(started); <-release }) // a job still running
	<-started
	t.Cleanup(func() { close(release); p.Stop() })
}

func TestPoolIgnoreCurrent(t *testing.T) {
	shared := Start(2) // used by every test of a real suite
	t.Cleanup(shared.Stop)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	p := Start(3)
	p.Stop()
}

func TestPoolSizes(t *testing.T) {
	tests := []struct {
		name   string
		start  int
		resize int
	}{
		{name: "one", start: 1},
		{name: "four", start: 4},
		{name: "resized", start: 2, resize: 3}, // leaks: Resize forgets the old workers
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)

			p := Start(tt.start)
			var old chan struct{}
			if tt.resize > 0 {
				old = p.quit
				p.Resize(tt.resize)
			}
			p.Stop()
			if old != nil {
				t.Cleanup(func() { close(old) })
			}
		})
	}
}
