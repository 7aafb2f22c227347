package createdby

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestFlush(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCreatedBy("example.com/app/createdby.StartBackground"))

	var got map[string]int
	m := &Metrics{sink: func(c map[string]int) { got = c }}
	m.Add("requests", 2)
	m.Flush()
	if got["requests"] != 2 {
		t.Fatalf("flushed %v", got)
	}
	shared.Add("tests", 1)
}

func TestFlushEvery(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCreatedBy("example.com/app/createdby.StartBackground"))

	flushed := make(chan map[string]int, 1)
	m := &Metrics{sink: func(c map[string]int) {
		select {
		case flushed <- c:
		default:
		}
	}}
	m.Add("requests", 1)
	StartBackground(m, time.Millisecond) // its flushers are ignored too, by their creator
	if c := <-flushed; c["requests"] != 1 {
		t.Fatalf("flushed %v", c)
	}
}
