package goleak_test

import (
	"os"
	"path/filepath"
	"time"

	"github.com/leakcheck/go/goleak"
	"github.com/leakcheck/go/leakcheck"
)

// A test that opens a log file, starts a follower on it and stops neither:
// goleak would report the goroutine only; the drop-in names the file too.
func ExampleVerifyNone_file() {
	dir, _ := os.MkdirTemp("", "app-")
	defer os.RemoveAll(dir)
	t := printT{dir: dir}
	current := goleak.IgnoreCurrent()

	f, _ := os.Create(filepath.Join(dir, "current.log"))
	stop := make(chan struct{})
	go follow(stop)

	goleak.VerifyNone(t, current, leakcheck.WithTimeout(100*time.Millisecond))

	close(stop)
	f.Close()
	// Output:
	// leakcheck: 2 leaked after waiting T: 1 goroutine, 1 fd (… ignored)
	// goroutines (1):
	//   1 × github.com/leakcheck/go/goleak_test.follow [chan receive], created by github.com/leakcheck/go/goleak_test.ExampleVerifyNone_file at example_linux_test.go:LINE
	//       goroutine N [chan receive] at example_test.go:LINE
	// fds (1):
	//   file (1):
	//       fd N file $DIR/current.log
}
