package goleak_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/leakcheck/go/goleak"
	"github.com/leakcheck/go/leakcheck"
)

// printT is a stand-in for the test's t: it prints what the test would
// fail with, with what changes from run to run masked: goroutine IDs,
// descriptor numbers, source lines, the time waited, the note counting
// what was ignored (the runtime's threads, the testing package's files),
// and where descriptors were created, which is shown only where eBPF may
// run (as root).
type printT struct{ dir string }

func (p printT) Error(args ...any) {
	s := fmt.Sprint(args...)
	if p.dir != "" {
		s = strings.ReplaceAll(s, p.dir, "$DIR")
	}
	for _, m := range masks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	fmt.Println(s)
}

var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`goroutine \d+`), "goroutine N"},
	{regexp.MustCompile(`fd \d+`), "fd N"},
	{regexp.MustCompile(` after waiting [0-9.]+[µm]?s`), " after waiting T"},
	{regexp.MustCompile(`, (opened|created|accepted|started|duplicated) at \S+ \S+:\d+|\nnote: where they were created is not shown: .*`), ""},
	{regexp.MustCompile(` at (?:\S*/)?([^/ ]+\.go):\d+`), " at $1:LINE"},
	{regexp.MustCompile(`(?m) \(\d+ .* ignored\)$`), " (… ignored)"},
}

// follow is a log follower's loop; its Stop was never called.
func follow(stop chan struct{}) { <-stop }

// A test that starts a follower and forgets to stop it fails with
// leakcheck's report. (IgnoreCurrent leaves out what the example's own
// harness holds: the pipe and goroutine that capture its output. The
// timeout, a leakcheck option, mixes with goleak's.)
func ExampleVerifyNone() {
	t := printT{}
	current := goleak.IgnoreCurrent()
	stop := make(chan struct{})
	go follow(stop)

	goleak.VerifyNone(t, current, leakcheck.WithTimeout(100*time.Millisecond))

	close(stop)
	// Output:
	// leakcheck: 1 leaked after waiting T: 1 goroutine (… ignored)
	// goroutines (1):
	//   1 × github.com/leakcheck/go/goleak_test.follow [chan receive], created by github.com/leakcheck/go/goleak_test.ExampleVerifyNone at example_test.go:LINE
	//       goroutine N [chan receive] at example_test.go:LINE
}

// Option is leakcheck.Option, so leakcheck.WithResources restricts the
// drop-in to what goleak checks: the file this test leaves open is not
// reported, the goroutine is.
func ExampleVerifyNone_goroutinesOnly() {
	t := printT{}
	current := goleak.IgnoreCurrent()
	f, _ := os.Open(os.DevNull)
	stop := make(chan struct{})
	go follow(stop)

	goleak.VerifyNone(t, current, leakcheck.WithResources(leakcheck.Goroutines), leakcheck.WithTimeout(100*time.Millisecond))

	close(stop)
	f.Close()
	// Output:
	// leakcheck: 1 leaked after waiting T: 1 goroutine (… ignored)
	// goroutines (1):
	//   1 × github.com/leakcheck/go/goleak_test.follow [chan receive], created by github.com/leakcheck/go/goleak_test.ExampleVerifyNone_goroutinesOnly at example_test.go:LINE
	//       goroutine N [chan receive] at example_test.go:LINE
}
