//go:build !linux

package tcpforward

import (
	"errors"
	"fmt"
	"runtime"
)

// eventLoop needs epoll and eventfd.
type eventLoop struct{}

func newEventLoop(int) (*eventLoop, error) {
	return nil, fmt.Errorf("epoll and eventfd on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (*eventLoop) submit(func()) error { return errors.ErrUnsupported }
func (*eventLoop) close() error        { return nil }
