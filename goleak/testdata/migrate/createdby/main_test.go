package createdby

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

var shared = &Metrics{}

func TestMain(m *testing.M) {
	StartBackground(shared, time.Hour)
	goleak.VerifyTestMain(m, goleak.IgnoreCreatedBy("example.com/app/createdby.StartBackground"))
}
