//go:build !linux

package main

import (
	"errors"
	"time"
)

func startThread(bool, string) error { return errors.ErrUnsupported }

func processAge() (time.Duration, error) { return 0, errors.ErrUnsupported }
