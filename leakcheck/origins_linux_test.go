package leakcheck_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/internal/origin"
	"github.com/leakcheck/go/leakcheck"
)

// originsHere reports whether this process may record origins (eBPF as
// root); the tests check the other branch, the note, when it may not.
func originsHere(t *testing.T) bool {
	tr, err := origin.Start(os.Getpid())
	if err != nil {
		require.ErrorIs(t, err, origin.ErrUnavailable)
		return false
	}
	require.NoError(t, tr.Close())
	return os.Getenv("LEAKCHECK_ORIGINS") != "off"
}

// nextLine returns "file.go:line" of the line after its caller's.
func nextLine() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", filepath.Base(file), line+1)
}

func TestOriginsNameTheLine(t *testing.T) {
	var (
		f        *os.File
		ln       net.Listener
		efd      int
		cmd      *exec.Cmd
		fileAt   string
		lnAt     string
		efdAt    string
		childAt  string
		err      error
		on       = originsHere(t)
		resource = leakcheck.WithResources(leakcheck.FDs | leakcheck.Sockets | leakcheck.Processes)
	)
	ft := runCheck(t, func() {
		fileAt = nextLine()
		f, err = os.Open(os.Args[0])
		require.NoError(t, err)
		lnAt = nextLine()
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		efdAt = nextLine()
		efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC)
		require.NoError(t, err)
		cmd = exec.Command("sleep", "20")
		childAt = nextLine()
		require.NoError(t, cmd.Start())
	}, short, resource)
	defer func() { f.Close(); ln.Close(); unix.Close(efd); reap(t, cmd) }()
	msg := ft.errorText()
	switch {
	case os.Getenv("LEAKCHECK_ORIGINS") == "off":
		assert.NotContains(t, msg, " at leakcheck_test.", "turned off: no origins")
		assert.NotContains(t, msg, "not shown", "turned off by the user: nothing to say")
		return
	case !on:
		assert.Contains(t, msg, "note: where they were created is not shown: origin: creation stacks unavailable", msg)
		return
	}
	fn := "leakcheck_test.TestOriginsNameTheLine.func1"
	assert.Contains(t, msg, fmt.Sprintf("file %s, opened at %s %s", os.Args[0], fn, fileAt), msg)
	assert.Contains(t, msg, fmt.Sprintf("LISTEN, created at %s %s", fn, lnAt), msg)
	assert.Contains(t, msg, fmt.Sprintf("eventfd (count 0), created at %s %s", fn, efdAt), msg)
	assert.Contains(t, msg, "(running, pidfd ", msg)
	assert.Contains(t, msg, fmt.Sprintf("started at %s %s", fn, childAt), msg)
	assert.NotContains(t, msg, "not shown", "origins were recorded")
}

// A descriptor a goroutine opened names the goroutine's function.
func TestOriginOfAGoroutine(t *testing.T) {
	on := originsHere(t)
	var f *os.File
	var at string
	done := make(chan struct{})
	ft := runCheck(t, func() {
		go func() {
			defer close(done)
			at = nextLine()
			f, _ = os.Open(os.Args[0])
		}()
		<-done
	}, short, leakcheck.WithResources(leakcheck.FDs))
	defer f.Close()
	if on {
		assert.Contains(t, ft.errorText(), "opened at leakcheck_test.TestOriginOfAGoroutine.func1.1 "+at)
	}
}

// Without privileges, a report still lists what leaked, and says in one
// line how to see where it was created.
func TestOriginsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to uid 65534")
	}
	dir, err := os.MkdirTemp("", "leakcheck-unpriv")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "leakcheck.test")
	exe, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, exe, 0o755))
	cmd := exec.Command(bin)
	cmd.Dir = "/"
	cmd.Env = []string{"LEAKCHECK_CHILD=leak-a-file", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	msg := string(out)
	assert.Contains(t, msg, "fd ", msg)
	assert.Contains(t, msg, "chardev /dev/null", "the leak is reported:\n%s", msg)
	assert.Contains(t, msg, "note: where they were created is not shown: origin: creation stacks unavailable", msg)
	assert.Contains(t, msg, "needs root or CAP_BPF+CAP_PERFMON", msg)
	assert.Equal(t, 1, strings.Count(msg, "not shown"), "one line:\n%s", msg)
}

// TestScenarioParallelOrigins: two parallel tests overlap. One leaks a
// file it opened in its body and a socket a goroutine of its opened; the
// other churns files, closing each. Origins tell them apart.
func TestScenarioParallelOrigins(t *testing.T) {
	scenario(t)
	started := make(chan struct{}, 2)
	both := func() { // both bodies run at once
		started <- struct{}{}
		for len(started) < 2 {
			runtime.Gosched()
		}
	}
	t.Run("leaky", func(t *testing.T) {
		t.Parallel()
		leakcheck.Check(t, leakcheck.WithTimeout(300*time.Millisecond))
		both()
		fmt.Printf("leaky opens at %s\n", nextLine())
		f, err := os.Open(os.Args[0])
		require.NoError(t, err)
		parallelLeaks = append(parallelLeaks, f)
		ready := make(chan struct{})
		go func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err == nil {
				parallelLeaks = append(parallelLeaks, ln)
			}
			close(ready)
			<-forever
		}()
		<-ready
		time.Sleep(50 * time.Millisecond) // overlap the churn
	})
	t.Run("churn", func(t *testing.T) {
		t.Parallel()
		leakcheck.Check(t, leakcheck.WithTimeout(300*time.Millisecond))
		both()
		for range 200 {
			f, err := os.Open(os.Args[0])
			require.NoError(t, err)
			f.Close()
		}
		time.Sleep(50 * time.Millisecond)
	})
}

var parallelLeaks []io.Closer

func TestParallelBlameByOrigin(t *testing.T) {
	if !originsHere(t) {
		t.Skip("origins cannot be recorded here (needs root or CAP_BPF+CAP_PERFMON): per-test blame falls back to the note, tested in TestParallelAttribution")
	}
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioParallelOrigins$", "-test.v", "-test.parallel=2")
	leaky := section(out, "=== NAME  TestScenarioParallelOrigins/leaky", "--- FAIL: TestScenarioParallelOrigins/leaky")
	assert.Contains(t, out, "--- FAIL: TestScenarioParallelOrigins/leaky", out)
	assert.Contains(t, out, "--- PASS: TestScenarioParallelOrigins/churn", "the churning test is not blamed:\n%s", out)
	var at string
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, "leaky opens at "); ok {
			at = s
		}
	}
	require.NotEmpty(t, at, out)
	assert.Contains(t, leaky, "file "+os.Args[0]+", opened at leakcheck_test.TestScenarioParallelOrigins.func2 "+at, "the file and the line that opened it:\n%s", out)
	assert.Contains(t, leaky, "LISTEN, created at leakcheck_test.TestScenarioParallelOrigins.func2.1", "the socket its goroutine opened:\n%s", out)
	assert.Contains(t, leaky, "threads not checked: overlapped TestScenarioParallelOrigins/churn", out)
}
