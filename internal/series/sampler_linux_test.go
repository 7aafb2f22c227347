package series

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/leakcheck/go/fdsnap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// childEnv makes the test binary a child that, on each line read from
// stdin, opens as many files as the line says (of the file the variable
// names) and answers "ok".
const childEnv = "SERIES_TEST_CHILD_FILE"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		runChild(path)
		return
	}
	os.Exit(m.Run())
}

func runChild(path string) {
	var keep []*os.File
	// os.Open registers files with the netpoller, which the runtime creates
	// on first use: create it now, so the files are all that changes.
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	r.Close()
	w.Close()
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	for in.Scan() {
		n, _ := strconv.Atoi(in.Text())
		for range n {
			f, err := os.Open(path)
			if err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
			keep = append(keep, f)
		}
		fmt.Println("ok")
	}
	runtime.KeepAlive(keep)
}

// sampleUntil samples until ok accepts the counts or a few seconds pass:
// sockets reach CLOSE_WAIT when the peer's FIN arrives, not at once.
func sampleUntil(t *testing.T, s Sampler, ok func(Counts) bool) Counts {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := s.Sample()
		require.NoError(t, err)
		if ok(c) || time.Now().After(deadline) {
			return c
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// delta returns after - before for every key of either.
func delta(before, after Counts) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok && v != 0 {
			d[k] = -v
		}
	}
	return d
}

var runs int

func TestSampleSelfRealResources(t *testing.T) {
	_, err := fdsnap.RuntimeFDs() // the netpoller exists before the baseline
	require.NoError(t, err)
	s := Sampler{}
	before, err := s.Sample()
	require.NoError(t, err)
	for _, k := range []string{FDs, Sockets, Threads} {
		assert.Contains(t, before, k, "every sample holds the totals")
	}

	// 3 regular files, a pipe, an eventfd.
	dir := t.TempDir()
	for i := range 3 {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close(); w.Close() })
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(efd) })

	// A listener and two client sockets left in CLOSE_WAIT: the server
	// closes its side, the client never does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		sc, err := ln.Accept()
		require.NoError(t, err)
		require.NoError(t, sc.Close())
	}

	// A named thread, named afresh on each run: a thread from an earlier
	// run (-count) may still be exiting.
	runs++
	threadName := fmt.Sprintf("sertest-%d", runs)
	named, stop := make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		name := []byte(threadName + "\x00")
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
		close(named)
		<-stop
	}()
	<-named
	t.Cleanup(func() { close(stop) })

	after := sampleUntil(t, s, func(c Counts) bool { return c["sockets/tcp CLOSE_WAIT"]-before["sockets/tcp CLOSE_WAIT"] >= 2 })
	d := delta(before, after)
	assert.Equal(t, 3, d["fds/file"], "regular files: %v", d)
	assert.Equal(t, 2, d["fds/pipe"], "both ends of the pipe: %v", d)
	assert.Equal(t, 1, d["fds/eventfd"], "%v", d)
	assert.Equal(t, 6, d[FDs], "sockets are not counted as fds: %v", d)
	assert.Equal(t, 1, d["sockets/tcp LISTEN"], "%v", d)
	assert.Equal(t, 2, d["sockets/tcp CLOSE_WAIT"], "%v", d)
	assert.Equal(t, 3, d[Sockets], "%v", d)
	assert.Equal(t, 1, after["threads/"+threadName], "%v", d)
	for _, total := range []string{FDs, Sockets, Threads} {
		sum := 0
		for k, v := range after {
			if strings.HasPrefix(k, total+"/") {
				sum += v
			}
		}
		assert.Equal(t, after[total], sum, "%s is the sum of its categories: %v", total, after)
	}
	assert.NotContains(t, after, Goroutines, "goroutines only on request")

	// Closed, the counts come back; a pipe closed and another opened keeps
	// the count (what identity diffs are for, not counts).
	for _, f := range []func() error{r.Close, w.Close, func() error { return unix.Close(efd) }} {
		require.NoError(t, f())
	}
	r2, w2, err := os.Pipe()
	require.NoError(t, err)
	defer func() { r2.Close(); w2.Close() }()
	back, err := s.Sample()
	require.NoError(t, err)
	d = delta(before, back)
	assert.Equal(t, 2, d["fds/pipe"], "%v", d)
	assert.Zero(t, d["fds/eventfd"], "the eventfd is gone: %v", d)
}

func TestSampleGoroutines(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	before, err := Sampler{Goroutines: true}.Sample()
	require.NoError(t, err)
	for range 5 {
		go func() { <-stop }()
	}
	after, err := Sampler{Goroutines: true}.Sample()
	require.NoError(t, err)
	assert.Equal(t, 5, after[Goroutines]-before[Goroutines])

	_, err = Sampler{PID: os.Getppid(), Goroutines: true}.Sample()
	assert.ErrorContains(t, err, "only be counted in the current process")
	_, err = Sampler{PID: -1}.Sample()
	assert.ErrorContains(t, err, "want a process id")
}

// startChild starts the test binary as a child that opens files on request.
func startChild(t *testing.T) (pid int, open func(n int), wait func()) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+file)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		require.True(t, lines.Scan(), "child output")
		require.Equal(t, want, lines.Text())
	}
	expect("ready")
	done := false
	wait = func() {
		if !done {
			done = true
			stdin.Close()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(wait)
	return cmd.Process.Pid, func(n int) {
		_, err := fmt.Fprintln(stdin, n)
		require.NoError(t, err)
		expect("ok")
	}, wait
}

func TestSampleChild(t *testing.T) {
	pid, open, wait := startChild(t)
	s := Sampler{PID: pid}
	before, err := s.Sample()
	require.NoError(t, err)
	open(25)
	after, err := s.Sample()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"fds": 25, "fds/file": 25}, delta(before, after), "exactly the files the child opened")
	assert.Positive(t, after[Threads])

	wait()
	_, err = s.Sample()
	require.Error(t, err, "an exited child")
	assert.True(t, errors.Is(err, os.ErrNotExist), "wraps os.ErrNotExist: %v", err)
}
