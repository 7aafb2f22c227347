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
	//   1 × github.com/leakcheck/go/leakcheck_test.replicaLoop [chan receive], created by github.com/leakcheck/go/leakcheck_test.ExampleCheck at example_test.go:LINE
	//       goroutine N [chan receive] at example_test.go:LINE
	// fds (1):
	//   deleted file (1):
	//       fd N file $DIR/00000000000000000000.log (deleted)
}

var (
	sourcePos = regexp.MustCompile(` at (?:\S*/)?([^/ ]+\.go):\d+`)
	// Where a descriptor was created is shown where eBPF may run (root);
	// the examples print the same text either way.
	originText = regexp.MustCompile(`, (opened|created|accepted|started|duplicated) at \S+ \S+:\d+|\nnote: where they were created is not shown: .*`)
)

func masked(s, dir string) string {
	s = strings.ReplaceAll(stable(s), dir, "$DIR")
	s = originText.ReplaceAllString(s, "")
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

// A cycle whose destroy step forgets every other object's file: what one
// create costs, and what one cycle leaves behind.
func ExampleFindCycle() {
	var open, leaked []*os.File
	createAll := func(n int) error {
		for range n {
			f, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			open = append(open, f)
		}
		return nil
	}
	destroyAll := func() error {
		for i, f := range open {
			if i%2 == 1 {
				leaked = append(leaked, f) // the bug
				continue
			}
			f.Close()
		}
		open = open[:0]
		return nil
	}
	rep, err := leakcheck.FindCycle(10, createAll, destroyAll,
		leakcheck.WithResources(leakcheck.FDs), leakcheck.WithTimeout(50*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	summary, _, _ := strings.Cut(rep.String(), "\n")
	fmt.Println(summary)
	fmt.Println(rep.PerCycle()["fds/chardev"])
	for _, f := range leaked {
		f.Close()
	}
	// Output:
	// leakcheck: 10 create/destroy cycles: per create: +1 fd (1 chardev); after destroy: retained per cycle: 0.5 fds (0.5 chardev)
	// 0.5
}

// A soak whose operation keeps one file open per iteration grows at one
// descriptor per iteration; the verdict names the category and its slope.
func ExampleRunSoak() {
	var kept []*os.File
	rep, err := leakcheck.RunSoak(func(int) error {
		f, err := os.Open(os.DevNull)
		kept = append(kept, f)
		return err
	}, leakcheck.WithIterations(50), leakcheck.WithResources(leakcheck.FDs))
	if err != nil {
		fmt.Println(err)
		return
	}
	g, _ := rep.Growth("fds/chardev")
	fmt.Printf("leaked: %v; %s grows %.2f per iteration\n", rep.Leaked(), g.Key, g.PerIteration)
	for _, f := range kept {
		f.Close()
	}
	// Output:
	// leaked: true; fds/chardev grows 1.00 per iteration
}

// A snapshot lists what the process holds; each resource type prints itself.
func ExampleTake() {
	s, err := leakcheck.Take(leakcheck.WithResources(leakcheck.Goroutines))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range s.Goroutines {
		if strings.Contains(g.Stack, "leakcheck_test.ExampleTake(") {
			fmt.Println("found the caller:", g.State)
		}
	}
	// Output:
	// found the caller: running
}
