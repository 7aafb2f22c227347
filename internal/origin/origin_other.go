//go:build !linux

package origin

import (
	"errors"
	"fmt"
	"runtime"
)

// tracer is empty off Linux: start never returns one.
type tracer struct {
	fds, children struct{}
}

func start(int) (*tracer, error) {
	return nil, fmt.Errorf("%w on %s: they need eBPF (Linux): %w", ErrUnavailable, runtime.GOOS, errors.ErrUnsupported)
}

func (*tracer) lookup(struct{}, int) (Origin, bool) { return Origin{}, false }

func (*tracer) close() error     { return nil }
func (*tracer) fdNumbers() []int { return nil }
