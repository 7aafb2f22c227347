//go:build !linux

package sockstate

import (
	"errors"
	"fmt"
	"runtime"
)

var errUnsupported = fmt.Errorf("sockstate: not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func take(int, config) (*Snapshot, error) { return nil, errUnsupported }

func count(int, config) (map[Class]int, error) { return nil, errUnsupported }
