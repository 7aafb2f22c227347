// Package runonfailure retries an operation in the background.
package runonfailure

import (
	"errors"
	"time"
)

// ErrGaveUp is returned when every attempt failed.
var ErrGaveUp = errors.New("gave up")

// Retry calls op until it succeeds or attempts run out, waiting wait
// between attempts, and returns the result on the channel.
//
// The bug the tests catch: when the caller stops listening after a
// timeout, the retry loop is stuck sending its result.
func Retry(op func() error, attempts int, wait time.Duration) <-chan error {
	res := make(chan error)
	go retryLoop(op, attempts, wait, res)
	return res
}

func retryLoop(op func() error, attempts int, wait time.Duration, res chan<- error) {
	err := ErrGaveUp
	for range attempts {
		if err = op(); err == nil {
			break
		}
		time.Sleep(wait)
	}
	res <- err
}
