package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The test binary plays three parts, chosen by environment variables:
// leakwatch itself (runEnv: its arguments are leakwatch's), a child to be
// watched (childEnv), or the tests.
const (
	runEnv     = "LEAKWATCH_TEST_RUN"
	childEnv   = "LEAKWATCH_TEST_CHILD"
	portEnv    = "LEAKWATCH_TEST_PORT"    // the port a child listens on once ready; 0 or unset: any
	startupEnv = "LEAKWATCH_TEST_STARTUP" // files a child opens, and keeps, before it is ready
	lifeEnv    = "LEAKWATCH_TEST_LIFE"    // how many steps a leaky, clean or idle child takes once ready; unset: a minute's worth
	ageEnv     = "LEAKWATCH_TEST_AGE"     // and it lives at least this many times as long as it took to be ready
	markerEnv  = "LEAKWATCH_TEST_MARKER"  // a file a child creates when it starts
	dirEnv     = "LEAKWATCH_TEST_DIR"     // where a child creates its files; the test removes it
	sayEnv     = "LEAKWATCH_TEST_SAY"     // a leaky, clean or idle child prints "stepped" after this many steps once ready
	kidEnv     = "LEAKWATCH_TEST_KID"     // the role of the child a parent starts
)

func TestMain(m *testing.M) {
	if os.Getenv(runEnv) != "" {
		os.Unsetenv(runEnv) // the command it starts is a child, not leakwatch
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(child(role))
	}
	// Under -race, a process sleeps a second before it exits, to let the
	// race detector report: not the children and leakwatch processes the
	// tests start, whose exits are what a watch waits for.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// child runs a watched process. Each one first opens $LEAKWATCH_TEST_STARTUP
// files named startup-N, one every 5ms (a pool filled at start-up, kept
// open), then listens on $LEAKWATCH_TEST_PORT and prints "ready": the
// readiness handshake, for --ready-port or for a test reading its output.
//
//	leaky   every 20ms, leaves a TCP connection in CLOSE_WAIT and a deleted file open
//	clean   does the same work and closes everything
//	idle    does nothing
//	exit3   exits with status 3
//	hold    holds about $LEAKWATCH_TEST_HOLD descriptors
//	cycles  on each line of stdin does one step and answers "ok": "leak" or
//	        "clean" as above, "runtime" locks four threads that keep the
//	        process's name (the runtime starts more), "named" starts a
//	        thread named worker-N
//	parent  starts the test binary as a child in role $LEAKWATCH_TEST_KID,
//	        waits for it and exits with its status: a process between the
//	        target and a grandchild
//	spawner every 20ms starts a brief worker and waits for it: workers
//	        that come and go
//	brief   opens a file every 20ms, three of them, and exits
//	forker  every 20ms starts a child that never exits (a sub)
//	sub     waits for its standard input to end: it does when its parent
//	        exits
//
// leaky, clean and idle exit 0 after $LEAKWATCH_TEST_LIFE steps of 20ms, and
// no sooner than $LEAKWATCH_TEST_AGE times the time from their start to
// ready. Children give up after a minute, so a failed test leaves nothing
// behind.
func child(role string) int {
	time.AfterFunc(time.Minute, func() { os.Exit(9) })
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 8
	}
	if m := os.Getenv(markerEnv); m != "" {
		if err := os.WriteFile(m, nil, 0o600); err != nil {
			return fail(err)
		}
	}
	// The test removes the directory, not the child: files removed while
	// the child exits would show as deleted files in its last samples.
	dir := os.Getenv(dirEnv)
	if dir == "" {
		return fail(fmt.Errorf("no $%s", dirEnv))
	}
	var kept []io.Closer // what the start-up pool and a leaky step keep open, reachable so no finalizer closes it
	defer func() { runtime.KeepAlive(kept) }()
	switch role { // the roles that are neither ready nor listen
	case "parent":
		kid := exec.Command(os.Args[0], os.Args[1:]...)
		kid.Env = append(os.Environ(), childEnv+"="+os.Getenv(kidEnv))
		kid.Stdout, kid.Stderr = os.Stdout, os.Stderr
		if err := kid.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			return fail(err)
		}
		return 0
	case "brief":
		for i := range 3 {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("brief-%d-%d", os.Getpid(), i)))
			if err != nil {
				return fail(err)
			}
			kept = append(kept, f)
			time.Sleep(20 * time.Millisecond)
		}
		return 0
	case "sub":
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	}
	startup, _ := strconv.Atoi(os.Getenv(startupEnv))
	for i := range startup {
		f, err := os.Create(filepath.Join(dir, "startup-"+strconv.Itoa(i)))
		if err != nil {
			return fail(err)
		}
		kept = append(kept, f)
		time.Sleep(5 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv(portEnv))
	if err != nil {
		return fail(err)
	}
	n := 0
	step := func(leak bool) error {
		n++
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		sc, err := ln.Accept()
		if err != nil {
			return err
		}
		sc.Close()
		// EOF means the server's FIN arrived: the client is in CLOSE_WAIT.
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			return fmt.Errorf("want EOF from a closed peer, got %v", err)
		}
		name := filepath.Join(dir, "leak-"+strconv.Itoa(n))
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		os.Remove(name) // open and deleted: the streaming platform's leak
		if leak {
			kept = append(kept, c, f)
			return nil
		}
		c.Close()
		return f.Close()
	}
	// A life counted in steps leaks as much however loaded the machine is.
	life := 3000
	if n, err := strconv.Atoi(os.Getenv(lifeEnv)); err == nil {
		life = n
	}
	var atLeast time.Time
	if k, err := strconv.Atoi(os.Getenv(ageEnv)); err == nil {
		age, err := processAge()
		if err != nil {
			return fail(err)
		}
		atLeast = time.Now().Add(time.Duration(k) * age)
	}
	say, _ := strconv.Atoi(os.Getenv(sayEnv))
	switch role {
	case "leaky", "clean", "idle":
		fmt.Println("ready")
		for i := 0; i < life || time.Now().Before(atLeast); i++ {
			if i == say && say > 0 {
				fmt.Println("stepped")
			}
			if role != "idle" {
				if err := step(role == "leaky"); err != nil {
					return fail(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return 0
	case "hold":
		// Hold LEAKWATCH_TEST_HOLD descriptors in all (files, plus the
		// listener and what the runtime has), for benchmarks.
		want, _ := strconv.Atoi(os.Getenv("LEAKWATCH_TEST_HOLD"))
		for i := 0; i < want-12; i++ {
			f, err := os.Open(os.Args[0])
			if err != nil {
				return fail(err)
			}
			kept = append(kept, f)
		}
		fmt.Println("ready")
		select {}
	case "spawner", "forker":
		fmt.Println("ready")
		var subs []io.Closer // the forker's children's standard input: they exit when it ends
		defer func() { runtime.KeepAlive(subs) }()
		for i := 0; i < life || time.Now().Before(atLeast); i++ {
			if i == say && say > 0 {
				fmt.Println("stepped")
			}
			kid := exec.Command(os.Args[0], os.Args[1:]...)
			kid.Stderr = os.Stderr
			if role == "spawner" {
				kid.Env = append(os.Environ(), childEnv+"=brief")
				if err := kid.Run(); err != nil {
					return fail(err)
				}
				continue
			}
			kid.Env = append(os.Environ(), childEnv+"=sub")
			in, err := kid.StdinPipe()
			if err != nil {
				return fail(err)
			}
			if err := kid.Start(); err != nil {
				return fail(err)
			}
			subs = append(subs, in)
			time.Sleep(20 * time.Millisecond)
		}
		return 0
	case "exit3":
		fmt.Println("ready")
		return 3
	case "cycles":
		fmt.Println("ready")
		in := bufio.NewScanner(os.Stdin)
		threads := 0
		for in.Scan() {
			var err error
			switch in.Text() {
			case "leak", "clean":
				err = step(in.Text() == "leak")
			case "named":
				threads++
				err = startThread(true, "worker-"+strconv.Itoa(threads))
			case "runtime":
				// Threads locked by goroutines that never end make the
				// runtime start more for the others.
				for i := 0; i < 4 && err == nil; i++ {
					err = startThread(false, "")
				}
			default:
				err = fmt.Errorf("unknown step %q", in.Text())
			}
			if err != nil {
				fmt.Println("error:", err)
				return 8
			}
			fmt.Println("ok")
		}
		return 0
	}
	return fail(fmt.Errorf("unknown role %q", role))
}

// syncBuffer is a bytes.Buffer that a watched command's output can be
// copied into while leakwatch writes to it too.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leakwatch runs leakwatch in this process.
func leakwatch(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	status = run(args, &out, &errOut)
	t.Logf("leakwatch %q → %d\n%s%s", args, status, out.String(), errOut.String())
	return status, out.String(), errOut.String()
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	require.Equal(t, string(want), got, "golden file %s; regenerate with go test -run %s -update", path, t.Name())
}
