package leakcheck_test

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"

	"github.com/leakcheck/go/leakcheck"
)

// The test binary checks itself with VerifyTestMain: every test here that
// leaks on purpose must clean up after itself, or the package fails.
//
// It also re-executes itself for scenarios that need a fresh process or a
// whole test run to observe (LEAKCHECK_CHILD=role).
func TestMain(m *testing.M) {
	switch os.Getenv("LEAKCHECK_CHILD") {
	case "":
		leakcheck.VerifyTestMain(m)
	case "scenarios":
		leakcheck.VerifyTestMain(m, leakcheck.WithBisect(0), leakcheck.Cleanup(func(code int) {
			fmt.Printf("VerifyTestMain exit code %d\n", code)
			os.Exit(code)
		}))
	case "first-network-use":
		childFirstNetworkUse()
	case "signal":
		childSignal()
	case "server":
		childServer()
	case "full-fd-table":
		childFullTable()
	case "leak-a-file":
		childLeakAFile()
	default:
		fmt.Println("unknown LEAKCHECK_CHILD")
		os.Exit(3)
	}
}

// childFirstNetworkUse is a fresh binary whose first network use happens
// between a baseline and a check.
func childFirstNetworkUse() {
	base, err := leakcheck.Take()
	if err != nil {
		fmt.Println("take:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	ln.Close()
	rep, err := leakcheck.Find(base)
	if err != nil {
		fmt.Println("find:", err)
		os.Exit(1)
	}
	fmt.Println(rep)
}

// childSignal starts os/signal's loop between a baseline and a check.
func childSignal() {
	base, err := leakcheck.Take()
	if err != nil {
		fmt.Println("take:", err)
		os.Exit(1)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	rep, err := leakcheck.Find(base)
	if err != nil {
		fmt.Println("find:", err)
		os.Exit(1)
	}
	fmt.Println(rep)
}

// childServer is a tiny server in another process: each request opens a
// file (kept open when LEAKCHECK_LEAKY=1) or starts a named OS thread
// (left running when leaky). It prints its address and serves until stdin
// closes.
func init() {
	// Package inits run on the main thread: locking here keeps the main
	// goroutine there, so the server can rename the main thread.
	if os.Getenv("LEAKCHECK_RENAME_MAIN") == "1" {
		runtime.LockOSThread()
	}
}

// keptFiles holds the leaky server's files: reachable, so no finalizer
// closes them behind the leak's back.
var keptFiles []*os.File

func childServer() {
	leaky := os.Getenv("LEAKCHECK_LEAKY") == "1"
	if os.Getenv("LEAKCHECK_RENAME_MAIN") == "1" {
		// The main thread carries the processors' name before any
		// baseline, as when a processor's goroutine lands on it.
		setThreadName("raft-rpc-proc")
	}
	dir := os.Getenv("LEAKCHECK_DIR")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	n := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		n++
		switch strings.TrimSpace(line) {
		case "open":
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("request-%d.log", n)))
			if err == nil {
				if leaky {
					keptFiles = append(keptFiles, f)
				} else {
					f.Close()
				}
			}
		case "thread":
			started := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				name, _ := os.ReadFile("/proc/thread-self/comm")
				setThreadName("raft-rpc-proc")
				close(started)
				if leaky {
					select {} // the processor is never shut down
				}
				// Returning while locked ends the thread, unless it is the
				// main thread, which the runtime keeps: restore its name.
				setThreadName(strings.TrimSpace(string(name)))
			}()
			<-started
		}
		fmt.Fprintln(c, "ok")
		c.Close()
	}
}

// childFullTable leaks files until its descriptor table is full (under a
// low limit), then checks: the report shows what could be read.
func childFullTable() {
	base, err := leakcheck.Take()
	if err != nil {
		fmt.Println("take:", err)
		os.Exit(1)
	}
	n, err := fdsnap.Count()
	if err != nil {
		fmt.Println("count:", err)
		os.Exit(1)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: uint64(n + 16), Max: uint64(n + 16)}); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	var leaked []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		leaked = append(leaked, f)
	}
	fmt.Printf("leaked %d files\n", len(leaked))
	rep, err := leakcheck.Find(base, leakcheck.WithTimeout(100*time.Millisecond))
	if err != nil {
		fmt.Println("find:", err)
		os.Exit(1)
	}
	fmt.Println(rep)
	runtime.KeepAlive(leaked) // open until the end: the verdict's collection must not close them
}

// childLeakAFile leaks a file between Take and Find and prints the report:
// what a user without privileges sees.
func childLeakAFile() {
	base, err := leakcheck.Take(leakcheck.WithResources(leakcheck.FDs))
	if err != nil {
		fmt.Println("take:", err)
		os.Exit(1)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	defer f.Close()
	rep, err := leakcheck.Find(base, leakcheck.WithResources(leakcheck.FDs), leakcheck.WithTimeout(50*time.Millisecond))
	if err != nil {
		fmt.Println("find:", err)
		os.Exit(1)
	}
	fmt.Println(rep)
}
