package leakcheck_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/leakcheck/go/leakcheck"
)

// replicaLoop is a replica's follower loop that nobody stops.
func replicaLoop(stop chan struct{}) { <-stop }

// A test that deletes a topic but leaves one replica's segment file open and
// its follower goroutine running. The fake t prints what the real one would
// fail with (goroutine IDs, descriptor numbers and paths masked).
func ExampleCheck() {
	t := newFakeT(nil, "TestDeleteTopic")
	leakcheck.Check(t, leakcheck.WithTimeout(100*time.Millisecond))

	dir, _ := os.MkdirTemp("", "topic-0-")
	seg, _ := os.Create(filepath.Join(dir, "00000000000000000000.log"))
	stop := make(chan struct{})
	go replicaLoop(stop)
	os.RemoveAll(dir) // delete the topic: the open segment becomes "(deleted)"

	t.finish() // the end of the test: Check's cleanup runs
	fmt.Println(masked(t.errorText(), dir))

	close(stop)
	seg.Close()
	// Output:
	// leakcheck: 2 leaked after waiting T: 1 goroutine, 1 fd
	// goroutines (1):
	//   1 × github.com/leakcheck/go/leakcheck_test.replicaLoop [chan receive], created by github.com/leakcheck/go/leakcheck_test.ExampleCheck
	//       goroutine N [chan receive] at example_test.go:LINE
	// fds (1):
	//   deleted file (1):
	//       fd N file $DIR/00000000000000000000.log (deleted)
}

var sourcePos = regexp.MustCompile(` at \S*/([^/ ]+\.go):\d+`)

func masked(s, dir string) string {
	s = strings.ReplaceAll(stable(s), dir, "$DIR")
	return sourcePos.ReplaceAllString(s, " at $1:LINE")
}

// A Report is a value: code can inspect what leaked, by resource and by group.
func ExampleFind() {
	base, err := leakcheck.Take(leakcheck.WithResources(leakcheck.FDs))
	if err != nil {
		fmt.Println(err)
		return
	}
	var files []*os.File
	for range 3 {
		f, _ := os.Open(os.DevNull)
		files = append(files, f)
	}
	rep, err := leakcheck.Find(base, leakcheck.WithResources(leakcheck.FDs), leakcheck.WithTimeout(50*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Leaked(), rep.Count(leakcheck.FDs), rep.Counts()["fds/chardev"])
	for _, f := range files {
		f.Close()
	}
	// Output:
	// true 3 3
}
