//go:build !linux

package procs

import (
	"errors"
	"fmt"
	"runtime"
)

// Children lists the children of process pid; only Linux has them in /proc.
func Children(pid int) ([]Process, error) {
	return nil, fmt.Errorf("procs: child processes on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Descendants lists every descendant of process pid; only Linux has them
// in /proc.
func Descendants(pid int) ([]Process, error) {
	return nil, fmt.Errorf("procs: descendants on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// HasNone reports whether the current process has no child; elsewhere it
// cannot tell.
func HasNone() bool { return false }
