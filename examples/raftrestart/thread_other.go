//go:build !linux

package raftrestart

import (
	"errors"
	"fmt"
	"runtime"
)

func threadName() (string, error) {
	return "", fmt.Errorf("thread names on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func setThreadName(string) error {
	return fmt.Errorf("thread names on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
