//go:build !linux

package fdsnap

import (
	"errors"
	"fmt"
	"runtime"
)

var errUnsupported = fmt.Errorf("fdsnap: not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func take(int, config) (*Snapshot, error) { return nil, errUnsupported }

func count(int) (int, error) { return 0, errUnsupported }

func runtimeFDs() ([]FD, error) { return nil, errUnsupported }

func isSplicePipe(FD) bool { return false }
