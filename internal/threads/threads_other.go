//go:build !linux

package threads

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
)

var errUnsupported = fmt.Errorf("threads: not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func list(int, []Thread) ([]Thread, error) { return nil, errUnsupported }

func count(int) (int, error) { return 0, errUnsupported }

func ownNames(int) []string { return nil }

func isGone(err error) bool { return errors.Is(err, fs.ErrNotExist) }
