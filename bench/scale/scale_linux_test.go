package scale

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leakcheck/go/leakcheck"
)

// A scale case: what the process holds before the checked test starts, and
// the limits the check runs under.
type scaleCase struct {
	goroutines, depth, fds int
	timeout                time.Duration // WithTimeout of the check
	testTimeout            time.Duration // the child test binary's -test.timeout
}

func (c scaleCase) String() string {
	return fmt.Sprintf("g=%d/depth=%d/fds=%d", c.goroutines, c.depth, c.fds)
}

// The environment of a child: which body, and the population.
const (
	envBody    = "LEAKCHECK_SCALE_BODY" // "clean" or "leaky"; unset: the small clean case in-process
	envCase    = "LEAKCHECK_SCALE_CASE" // goroutines,depth,fds,timeout
	envScale   = "LEAKCHECK_SCALE"      // "full": the whole table
	reportedAs = "scale-rss-before-check-kB="
	peakAs     = "scale-peak-rss-kB="
)

func cases() []scaleCase {
	if os.Getenv(envScale) != "full" {
		return []scaleCase{
			{goroutines: 2000, depth: 20, fds: 100, timeout: time.Second, testTimeout: time.Minute},
			{goroutines: 10, depth: 0, fds: 1000, timeout: time.Second, testTimeout: time.Minute},
		}
	}
	var out []scaleCase
	for _, n := range []int{10000, 100000} {
		for _, depth := range []int{0, 50} {
			out = append(out, scaleCase{goroutines: n, depth: depth, fds: 10, timeout: 3 * time.Second, testTimeout: 60 * time.Second})
		}
	}
	// The report: 30 000 goroutines fifty frames deep, a leaky
	// test, a 10 s test binary timeout.
	out = append(out, scaleCase{goroutines: 30000, depth: 50, fds: 10, timeout: 3 * time.Second, testTimeout: 10 * time.Second})
	for _, fds := range []int{5000, 10000, 19900} {
		out = append(out, scaleCase{goroutines: 10, fds: fds, timeout: 3 * time.Second, testTimeout: 60 * time.Second})
	}
	return out
}

// TestScale runs every case clean and leaky, each in a child process, and
// checks the verdicts.
func TestScale(t *testing.T) {
	for _, c := range cases() {
		for _, body := range []string{"clean", "leaky"} {
			t.Run(c.String()+"/"+body, func(t *testing.T) {
				res := runChild(t, c, body)
				peak := fmt.Sprintf("%d MB", res.peakKB/1024)
				if res.peakFromRusage {
					peak = fmt.Sprintf("≤ %d MB (rusage)", res.peakKB/1024)
				}
				t.Logf("%s %s: %s, wall %v, peak RSS %s (%d MB before the check), exit %d",
					c, body, verdictWord(res.exit), res.wall.Round(time.Millisecond), peak, res.beforeKB/1024, res.exit)
				if strings.Contains(res.out, "panic: test timed out") {
					t.Fatalf("the test binary's -test.timeout fired before the check reported:\n%s", tail(res.out))
				}
				switch body {
				case "clean":
					if res.exit != 0 {
						t.Fatalf("a clean body failed its check:\n%s", tail(res.out))
					}
				case "leaky":
					if res.exit == 0 {
						t.Fatalf("a leaky body passed its check:\n%s", tail(res.out))
					}
					for _, want := range []string{"leakcheck: ", "scale.leakyWait", "leaked-by-scale-test"} {
						if !strings.Contains(res.out, want) {
							t.Errorf("the report does not name %q:\n%s", want, tail(res.out))
						}
					}
				}
			})
		}
	}
}

type childResult struct {
	out              string
	exit             int
	wall             time.Duration
	peakKB, beforeKB int64
	peakFromRusage   bool
}

func runChild(t *testing.T, c scaleCase, body string) childResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleBody$", "-test.v", "-test.timeout="+c.testTimeout.String())
	cmd.Env = append(os.Environ(), envBody+"="+body,
		fmt.Sprintf("%s=%d,%d,%d,%s", envCase, c.goroutines, c.depth, c.fds, c.timeout))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	res := childResult{out: string(out), wall: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run the child: %v", err)
		}
		res.exit = ee.ExitCode()
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, reportedAs); ok {
			res.beforeKB, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, peakAs); ok {
			res.peakKB, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && res.peakKB == 0 {
		// It died before it could say (a timeout's panic): the rusage,
		// which may count the parent's memory at the fork too.
		res.peakKB, res.peakFromRusage = ru.Maxrss, true
	}
	return res
}

func verdictWord(exit int) string {
	if exit == 0 {
		return "pass"
	}
	return "fail"
}

func tail(s string) string {
	const max = 4000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// TestScaleBody is the checked test. Run by itself it is the small clean
// case in this process; TestScale runs it in children with a population
// and a body from the environment.
func TestScaleBody(t *testing.T) {
	c := scaleCase{goroutines: 500, depth: 10, fds: 100, timeout: time.Second}
	if v := os.Getenv(envCase); v != "" {
		var err error
		if c, err = parseCase(v); err != nil {
			t.Fatal(err)
		}
	}
	body := os.Getenv(envBody)
	if body == "" {
		body = "clean"
	}
	// The peak, once everything else is done (cleanups run last
	// registered first): VmHWM is this program's own, where the
	// rusage of a child also counts the parent it was forked from.
	t.Cleanup(func() { fmt.Printf("%s%d\n", peakAs, statusKB("VmHWM:")) })
	// Released after the check's cleanup (registered later, run first):
	// the check sees the whole population.
	t.Cleanup(populate(t, c))
	fmt.Printf("%s%d\n", reportedAs, statusKB("VmRSS:"))

	leakcheck.Check(t, leakcheck.WithTimeout(c.timeout))
	switch body {
	case "clean":
		// Teardown that finishes after the body: the check must wait.
		done := make(chan struct{})
		go func() { time.Sleep(20 * time.Millisecond); close(done) }()
		f, err := os.CreateTemp(t.TempDir(), "scale-clean-*")
		if err != nil {
			t.Fatal(err)
		}
		go func() { <-done; f.Close() }()
	case "leaky":
		f, err := os.CreateTemp(os.TempDir(), "leaked-by-scale-test-*")
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(f.Name())
		leakedFiles = append(leakedFiles, f)
		go leakyWait()
	default:
		t.Fatalf("%s=%q: want clean or leaky", envBody, body)
	}
}

var (
	leakedFiles []*os.File
	never       = make(chan struct{}) // reachable, never closed: no proof, the timeout decides
)

// leakyWait is the leaked goroutine the report must name.
func leakyWait() { <-never }

func parseCase(v string) (scaleCase, error) {
	var c scaleCase
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return c, fmt.Errorf("%s=%q: want goroutines,depth,fds,timeout", envCase, v)
	}
	var err error
	for i, p := range []*int{&c.goroutines, &c.depth, &c.fds} {
		if *p, err = strconv.Atoi(parts[i]); err != nil || *p < 0 {
			return c, fmt.Errorf("%s=%q: field %d is not a count", envCase, v, i+1)
		}
	}
	if c.timeout, err = time.ParseDuration(parts[3]); err != nil {
		return c, fmt.Errorf("%s=%q: %v", envCase, v, err)
	}
	return c, nil
}

// populate parks c.goroutines goroutines, each c.depth frames deep, and
// opens c.fds descriptors, before the check's baseline; stop releases them.
func populate(t *testing.T, c scaleCase) (stop func()) {
	t.Helper()
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(c.goroutines)
	for range c.goroutines {
		go func() {
			started.Done()
			deep(c.depth, release)
		}()
	}
	started.Wait()
	var files []*os.File
	for range c.fds {
		f, err := os.Open(os.DevNull)
		if err != nil {
			close(release)
			t.Fatalf("open descriptor %d of %d: %v", len(files)+1, c.fds, err)
		}
		files = append(files, f)
	}
	runtime.GC()
	return func() {
		close(release)
		for _, f := range files {
			f.Close()
		}
	}
}

//go:noinline
func deep(n int, release chan struct{}) {
	if n > 0 {
		deep(n-1, release)
		return
	}
	<-release
}

// statusKB reads a size in kB from /proc/self/status ("VmRSS:", the
// resident set; "VmHWM:", its peak).
func statusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
