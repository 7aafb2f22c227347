package goleak_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/goleak"
	"github.com/leakcheck/go/leakcheck"
)

// childRole is the environment variable that makes the test binary play a
// part in a test of VerifyTestMain, which needs a whole run of its own.
const childRole = "GOLEAK_TEST_CHILD"

// The package's own tests check themselves with the drop-in: every test
// that leaks on purpose gives back what it took before it returns.
func TestMain(m *testing.M) {
	role := os.Getenv(childRole)
	if role == "" {
		goleak.VerifyTestMain(m)
		return
	}
	// A child prints its exit code, so the parent can tell VerifyTestMain's
	// verdict from a crash, and waits less for its leaks than a user would.
	report := goleak.Cleanup(func(code int) {
		fmt.Printf("exit code %d\n", code)
		os.Exit(code)
	})
	short := leakcheck.WithTimeout(300 * time.Millisecond)
	switch role {
	case "listener, IgnoreCurrent":
		// A shared fixture opened in TestMain, before IgnoreCurrent.
		listener = mustListen()
		goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), report, short)
	case "listener":
		listener = mustListen()
		goleak.VerifyTestMain(m, report, short)
	case "fails and leaks, RunOnFailure":
		goleak.VerifyTestMain(m, goleak.RunOnFailure(), report, short)
	case "fails and leaks":
		goleak.VerifyTestMain(m, report, short)
	default:
		fmt.Printf("unknown %s=%q\n", childRole, role)
		os.Exit(3)
	}
}

// listener is a child's shared fixture, kept reachable so no finalizer
// closes it.
var listener net.Listener

func mustListen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(3)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return ln
}

// parkedInChild is the goroutine TestChildFailsAndLeaks leaves behind.
//
//go:noinline
func parkedInChild(c chan struct{}) { <-c }

// TestChildFailsAndLeaks is the body of the "fails and leaks" children: it
// starts a goroutine it never stops and fails.
func TestChildFailsAndLeaks(t *testing.T) {
	if !strings.HasPrefix(os.Getenv(childRole), "fails and leaks") {
		t.Skip("the body of a child process of TestRunOnFailure")
	}
	go parkedInChild(make(chan struct{}))
	t.Error("the test fails")
}

// runChild runs the test binary again as role, with only
// TestChildFailsAndLeaks selected, and returns its combined output and
// exit code.
func runChild(t *testing.T, role string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildFailsAndLeaks$", "-test.count=1")
	cmd.Env = append(os.Environ(), childRole+"="+role, "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	require.NoError(t, err, "%s", out)
	return string(out), 0
}

// recordT is a TestingT that records what a check fails it with.
type recordT struct {
	mu     sync.Mutex
	errors []string
}

func (r *recordT) Helper() {}

func (r *recordT) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprint(args...))
}

func (r *recordT) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0
}

func (r *recordT) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}
