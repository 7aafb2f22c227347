package leakcheck_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/leakcheck"
)

// runCheck runs body between Check and its cleanup on a fake test and
// returns the fake for its verdict.
func runCheck(t *testing.T, body func(), opts ...leakcheck.Option) *fakeT {
	t.Helper()
	ft := newFakeT(t, t.Name())
	leakcheck.Check(ft, opts...)
	body()
	ft.finish()
	return ft
}

func TestGoroutineLeak(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := runCheck(t, func() { startBlocked(release) }, short)
	msg := ft.errorText()
	require.NotEmpty(t, msg, "a goroutine blocked forever is a leak")
	assert.Contains(t, msg, "goroutines (1):")
	assert.Contains(t, msg, "leakcheck_test.startBlocked.func1 [chan receive], created by github.com/leakcheck/go/leakcheck_test.startBlocked")
}

func startBlocked(release chan struct{}) {
	go func() { <-release }()
}

func TestGoroutineEndsLate(t *testing.T) {
	ft := runCheck(t, func() {
		go func() { time.Sleep(300 * time.Millisecond) }()
	}, leakcheck.WithTimeout(5*time.Second))
	assert.Empty(t, ft.errorText(), "a goroutine that ends 300ms after the body is teardown, not a leak")
}

func TestFileLeak(t *testing.T) {
	dir := t.TempDir()
	var f *os.File
	ft := runCheck(t, func() {
		var err error
		f, err = os.Create(filepath.Join(dir, "00000000.log"))
		require.NoError(t, err)
		require.NoError(t, os.Remove(f.Name()))
	}, short)
	defer f.Close()
	msg := ft.errorText()
	assert.Contains(t, msg, "fds (1):")
	assert.Contains(t, msg, "deleted file (1):")
	assert.Contains(t, msg, "file "+f.Name()+" (deleted)")
	// Nothing else leaked.
	assert.Regexp(t, `^leakcheck: 1 leaked after waiting \S+: 1 fd[ \n]`, msg)
	assert.NotContains(t, msg, "goroutines (", "nothing else leaked")
}

func TestFileClosed(t *testing.T) {
	dir := t.TempDir()
	ft := runCheck(t, func() {
		f, err := os.Create(filepath.Join(dir, "x"))
		require.NoError(t, err)
		f.Close()
	})
	assert.Empty(t, ft.errorText())
}

func TestEventLoopLeak(t *testing.T) {
	var fds []int
	ft := runCheck(t, func() {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		require.NoError(t, err)
		fds = append(fds, ep)
		for range 3 {
			efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
			require.NoError(t, err)
			require.NoError(t, unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN}))
			fds = append(fds, efd)
		}
	}, short)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	msg := ft.errorText()
	assert.Contains(t, msg, "fds (4):")
	assert.Contains(t, msg, "eventfd (3):")
	assert.Contains(t, msg, "eventpoll (watching 3 fds)")
}

func TestSocketLeak(t *testing.T) {
	var ln net.Listener
	var client, server net.Conn
	ft := runCheck(t, func() {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		client, err = net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		server, err = ln.Accept()
		require.NoError(t, err)
	}, short)
	defer ln.Close()
	defer client.Close()
	defer server.Close()
	msg := ft.errorText()
	assert.Contains(t, msg, "sockets (3):")
	assert.Contains(t, msg, "tcp ESTABLISHED (2):")
	assert.Contains(t, msg, "tcp LISTEN (1):")
	assert.Contains(t, msg, "tcp "+ln.Addr().String()+" LISTEN")
	assert.Contains(t, msg, "tcp "+client.LocalAddr().String()+" → "+ln.Addr().String()+" ESTABLISHED")
	assert.NotContains(t, msg, "fds (", "sockets are reported as sockets, not as bare fds")
}

func TestSocketClosedAsync(t *testing.T) {
	ft := runCheck(t, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)
		// The server side closes when the client's close reaches it, a
		// moment after the body returns.
		go func() {
			buf := make([]byte, 1)
			s.Read(buf)
			time.Sleep(100 * time.Millisecond)
			s.Close()
			ln.Close()
		}()
		c.Close()
	}, leakcheck.WithTimeout(5*time.Second))
	assert.Empty(t, ft.errorText(), "a peer connection closed after the body is not a leak")
}

func TestThreadLeakByName(t *testing.T) {
	release := make(chan struct{})
	ready := make(chan struct{})
	ft := runCheck(t, func() {
		go func() {
			runtime.LockOSThread()
			name, _ := os.ReadFile("/proc/thread-self/comm")
			setThreadName("rpc-processor")
			close(ready)
			<-release
			// Exiting while locked ends the thread, unless it is the main
			// thread, which the runtime keeps: give it its name back.
			setThreadName(strings.TrimSuffix(string(name), "\n"))
		}()
		<-ready
	}, short, leakcheck.WithResources(leakcheck.Threads))
	close(release)
	msg := ft.errorText()
	assert.Contains(t, msg, "threads (1):")
	assert.Contains(t, msg, "rpc-processor (1):")
}

// The clean twin: the named thread's goroutine returns while locked, which
// ends the thread (or, on the main thread, gives the name back).
func TestNamedThreadThatEndsIsClean(t *testing.T) {
	done := make(chan struct{})
	ft := runCheck(t, func() {
		go func() {
			defer close(done)
			runtime.LockOSThread()
			name, _ := os.ReadFile("/proc/thread-self/comm")
			setThreadName("rpc-processor")
			if unix.Gettid() == os.Getpid() {
				// The runtime keeps the main thread: give its name back.
				setThreadName(strings.TrimSuffix(string(name), "\n"))
			}
			// Otherwise returning while locked ends the thread.
		}()
		<-done
	}, leakcheck.WithResources(leakcheck.Threads), leakcheck.WithTimeout(5*time.Second))
	assert.Empty(t, ft.errorText(), "a named thread that is gone by the verdict is not a leak")
}

// setThreadName names the calling OS thread, as pthread_setname_np does.
func setThreadName(name string) {
	p, _ := unix.BytePtrFromString(name)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0)
}

func TestPreexistingNotBlamed(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "before")
	require.NoError(t, err)
	ft := runCheck(t, func() {})
	f.Close()
	assert.Empty(t, ft.errorText(), "a file opened before the baseline is not the test's")
}

func TestAlreadyFailedIsNotBuried(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := newFakeT(t, t.Name())
	leakcheck.Check(ft, short)
	startBlocked(release)
	ft.Errorf("the test's own failure")
	ft.finish()
	assert.Equal(t, "the test's own failure", ft.errorText(), "no second failure on top of the first")
	assert.Contains(t, ft.logText(), "the test already failed")
	assert.Contains(t, ft.logText(), "goroutines (1):", "what was left behind is still shown")
}

func TestMisuseIsLoud(t *testing.T) {
	ft := runCheck(t, func() {}, leakcheck.WithPID(-3))
	assert.Contains(t, ft.errorText(), "WithPID(-3): want the pid of a running process")
	ft = runCheck(t, func() {}, leakcheck.WithResources(0))
	assert.Contains(t, ft.errorText(), "name one or more of Goroutines, FDs, Sockets, Threads")
	ft = runCheck(t, func() {}, leakcheck.Cleanup(func(int) {}))
	assert.Contains(t, ft.errorText(), "Cleanup does not apply to Check; it is for VerifyNone, VerifyTestMain")
}

func TestCleanCheckLooksOnce(t *testing.T) {
	base, err := leakcheck.Take()
	require.NoError(t, err)
	rep, err := leakcheck.Find(base)
	require.NoError(t, err)
	assert.False(t, rep.Leaked())
	assert.Equal(t, "leakcheck: no leaks in this process", strings.Split(rep.String(), " (")[0])
}

// A check whose verdict finds the descriptor table full still reports
// what it could read, says what it could not and why, and fails.
func TestFullFDTableStillReports(t *testing.T) {
	out, _ := runChild(t, "full-fd-table")
	require.Contains(t, out, "leaked ", out)
	var n int
	_, err := fmt.Sscanf(out[strings.Index(out, "leaked "):], "leaked %d files", &n)
	require.NoError(t, err)
	assert.Contains(t, out, fmt.Sprintf("fds (%d):", n), "every leaked file is read and reported:\n%s", out)
	assert.Contains(t, out, "chardev (", out)
	assert.Contains(t, out, "not checked: threads could not be read", out)
	assert.Contains(t, out, "too many open files", out)
}
