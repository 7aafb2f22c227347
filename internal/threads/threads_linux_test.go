package threads

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Child roles: the test binary re-executes itself with THREADS_TEST_CHILD set.
func TestMain(m *testing.M) {
	switch os.Getenv("THREADS_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "named":
		childNamed()
	case "hidepid":
		childHidepid()
	case "list":
		childList()
	default:
		fmt.Fprintln(os.Stderr, "unknown child role")
		os.Exit(2)
	}
	os.Exit(0)
}

// onNamedThread runs fn in a new goroutine locked to a thread other than the
// main one (whose end the runtime never allows and whose name is the
// process's), after naming that thread. fn gets the TID; the thread ends
// when fn returns.
func onNamedThread(name string, fn func(tid int, err error)) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Keep the main thread busy while another goroutine tries.
			locked := make(chan struct{})
			onNamedThread(name, func(tid int, err error) {
				close(locked)
				fn(tid, err)
			})
			<-locked
			runtime.UnlockOSThread()
			return
		}
		p, err := unix.BytePtrFromString(name)
		if err == nil {
			err = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0)
		}
		fn(unix.Gettid(), err)
	}()
}

// childNamed starts three threads named JRaft-RPC-Proc, prints their TIDs and
// waits for its stdin to close.
func childNamed() {
	tids := make(chan int)
	for range 3 {
		onNamedThread("JRaft-RPC-Proc", func(tid int, err error) {
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			tids <- tid
			select {}
		})
	}
	var out []string
	for range 3 {
		out = append(out, strconv.Itoa(<-tids))
	}
	fmt.Println("ready " + strings.Join(out, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// childHidepid runs as root in its own mount namespace: it mounts a procfs
// with hidepid=1 on THREADS_TEST_MOUNT (a directory the parent made and
// removes), becomes uid/gid 65534, and lists the threads of
// THREADS_TEST_TARGET there.
func childHidepid() {
	dir := os.Getenv("THREADS_TEST_MOUNT")
	check(unix.Mount("proc", dir, "proc", 0, "hidepid=1"))
	check(syscall.Setgroups(nil))
	check(syscall.Setgid(65534))
	check(syscall.Setuid(65534))
	target, err := strconv.Atoi(os.Getenv("THREADS_TEST_TARGET"))
	check(err)
	report(ListFS(os.DirFS(dir), target))
	_, err = CountFS(os.DirFS(dir), target)
	fmt.Printf("count: permission=%v %v\n", errorsIsPermission(err), err)
}

// childList lists the threads of THREADS_TEST_TARGET through the real /proc.
func childList() {
	target, err := strconv.Atoi(os.Getenv("THREADS_TEST_TARGET"))
	check(err)
	report(List(target))
}

func report(ts []Thread, err error) {
	if err != nil {
		fmt.Printf("list: permission=%v %v\n", errorsIsPermission(err), err)
		return
	}
	fmt.Printf("list: %d threads, uid %d\n", len(ts), os.Getuid())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
}

func child(t *testing.T, role string, target int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "THREADS_TEST_CHILD="+role, "THREADS_TEST_TARGET="+strconv.Itoa(target))
	cmd.Stderr = &testWriter{t}
	return cmd
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("child stderr: %s", b)
	return len(b), nil
}

func TestListSelfNamedThread(t *testing.T) {
	tidc := make(chan int)
	stop := make(chan struct{})
	done := make(chan struct{})
	onNamedThread("lc-named", func(tid int, err error) {
		defer close(done)
		if err != nil {
			t.Error(err)
			tid = -1
		}
		tidc <- tid
		<-stop
		// Returning while locked ends the thread.
	})
	tid := <-tidc
	require.Positive(t, tid)

	ts, err := List(0)
	require.NoError(t, err)
	assert.Contains(t, ts, Thread{TID: tid, Name: "lc-named"})
	assert.True(t, slices.IsSortedFunc(ts, func(a, b Thread) int { return a.TID - b.TID }))
	assert.NotEqual(t, os.Getpid(), tid)
	assert.Equal(t, os.Getpid(), ts[0].TID, "the main thread, TID = PID, comes first")
	byPID, err := List(os.Getpid())
	require.NoError(t, err)
	assert.Contains(t, byPID, Thread{TID: tid, Name: "lc-named"})

	close(stop)
	<-done
	waitFor(t, func() bool {
		ts, err := List(0)
		require.NoError(t, err)
		return !slices.ContainsFunc(ts, func(th Thread) bool { return th.TID == tid })
	})
}

func TestCountSelf(t *testing.T) {
	// Threads come and go with the runtime; compare when two reads agree.
	waitFor(t, func() bool {
		ts, err := List(0)
		require.NoError(t, err)
		n, err := Count(0)
		require.NoError(t, err)
		viaStatus, err := CountFS(os.DirFS("/proc"), 0)
		require.NoError(t, err)
		return n == len(ts) && viaStatus == n
	})
	// Each locked goroutine holds a thread of its own: locking more
	// goroutines than there are threads forces new ones.
	before, err := Count(0)
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	started := make(chan struct{})
	for range before + 2 {
		go func() {
			runtime.LockOSThread()
			started <- struct{}{}
			<-stop
		}()
	}
	for range before + 2 {
		<-started
	}
	after, err := Count(0)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after, before+2)
	ts, err := List(0)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(ts), before+2)
}

func TestListChildProcess(t *testing.T) {
	cmd := child(t, "named", 0)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	fields := strings.Fields(line)
	require.Equal(t, "ready", fields[0], line)
	pid := cmd.Process.Pid

	ts, err := List(pid)
	require.NoError(t, err)
	for _, f := range fields[1:] {
		tid, err := strconv.Atoi(f)
		require.NoError(t, err)
		assert.Contains(t, ts, Thread{TID: tid, Name: "JRaft-RPC-Proc"})
	}
	named := 0
	for _, th := range ts {
		if th.Name == "JRaft-RPC-Proc" {
			named++
		}
	}
	assert.Equal(t, 3, named)
	assert.Contains(t, ts, Thread{TID: pid, Name: ts[0].Name})
	n, err := Count(pid)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 4, "main thread and the three named ones")

	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	_, err = List(pid)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "threads: pid "+strconv.Itoa(pid)+": no such process")
	_, err = Count(pid)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestListNoSuchProcess(t *testing.T) {
	const pid = 1 << 30 // above any pid_max (at most 2^22)
	_, err := List(pid)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.EqualError(t, err, "threads: pid 1073741824: no such process: file does not exist")
	_, err = Count(pid)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// Thread names are world-readable on a default /proc: another user lists
// ours without error. A /proc mounted with hidepid=1 denies it, and that is
// an error wrapping os.ErrPermission.
func TestListPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: to run a child as uid 65534 and to mount a hidepid=1 procfs")
	}
	t.Run("default proc, other user", func(t *testing.T) {
		cmd := child(t, "list", os.Getpid())
		// The go test build directory is private to root: run a copy
		// uid 65534 may execute.
		cmd.Path = executableCopy(t)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		require.NoError(t, err)
		assert.Regexp(t, `^list: \d+ threads, uid 65534\n$`, string(out))
	})
	t.Run("hidepid=1, other user", func(t *testing.T) {
		cmd := child(t, "hidepid", os.Getpid())
		dir, err := os.MkdirTemp("", "threads-proc-") // uid 65534 must reach it: not under t.TempDir
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.Remove(dir) })
		require.NoError(t, os.Chmod(dir, 0o755))
		cmd.Env = append(cmd.Env, "THREADS_TEST_MOUNT="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		out, err := cmd.Output()
		require.NoError(t, err)
		pid := strconv.Itoa(os.Getpid())
		assert.Equal(t,
			"list: permission=true threads: pid "+pid+": permission denied reading its threads (is /proc mounted with hidepid?): permission denied\n"+
				"count: permission=true threads: pid "+pid+": permission denied reading its threads (is /proc mounted with hidepid?): permission denied\n",
			string(out))
	})
}

func executableCopy(t *testing.T) string {
	dir, err := os.MkdirTemp("", "threads-nobody-") // t.TempDir's parent is 0700
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	src, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	bin := dir + "/threads.test"
	require.NoError(t, os.WriteFile(bin, src, 0o755))
	return bin
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func BenchmarkList(b *testing.B) {
	for b.Loop() {
		if _, err := List(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCount compares the two ways to count: the link count of
// /proc/self/task (what Count does) and the Threads: line of status.
func BenchmarkCount(b *testing.B) {
	b.Run("nlink", func(b *testing.B) {
		for b.Loop() {
			if _, err := Count(0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("status", func(b *testing.B) {
		fsys := os.DirFS("/proc")
		for b.Loop() {
			if _, err := CountFS(fsys, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestListSince(t *testing.T) {
	prev, err := List(0)
	require.NoError(t, err)
	renamed := append([]Thread(nil), prev...)
	renamed[0].Name = "from-prev"
	got, err := ListSince(0, renamed)
	require.NoError(t, err)
	var names []string
	for _, th := range got {
		if th.TID == renamed[0].TID {
			names = append(names, th.Name)
		}
	}
	assert.Equal(t, []string{"from-prev"}, names, "a known thread keeps prev's name: not read again")
}

func TestOwnNamesSelf(t *testing.T) {
	// The main thread never renamed itself: its comm is one of the names.
	ts, err := List(0)
	require.NoError(t, err)
	main := slices.IndexFunc(ts, func(th Thread) bool { return th.TID == os.Getpid() })
	require.GreaterOrEqual(t, main, 0)
	names := OwnNames(0)
	assert.Contains(t, names, ts[main].Name, "the main thread's name %q among %q", ts[main].Name, names)
	assert.Equal(t, names, OwnNames(os.Getpid()), "by pid, the same")
	assert.Empty(t, OwnNames(4194305), "no such process: nothing")
}
