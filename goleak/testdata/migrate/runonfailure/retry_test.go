package runonfailure

import (
	"errors"
	"testing"
	"time"
)

func TestRetrySucceeds(t *testing.T) {
	n := 0
	err := <-Retry(func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}, 5, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
}

// Fails, and leaves the retry loop stuck: the operation is slower than the
// test is willing to wait.
func TestRetryTimesOut(t *testing.T) {
	res := Retry(func() error { time.Sleep(50 * time.Millisecond); return nil }, 1, 0)
	select {
	case err := <-res:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Millisecond):
		t.Fatal("Retry did not answer in time")
	}
}
