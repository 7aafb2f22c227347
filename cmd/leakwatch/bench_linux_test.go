package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/leakcheck/go/leakcheck"
)

// BenchmarkWatchTick measures what a watch does every --interval to a
// process holding about n descriptors: one full snapshot, counted by
// category (thread names by family). The comparison with the base is made
// once, at the end; Compare is measured separately.
//
//	go test -run='^$' -bench=WatchTick -benchtime=2s ./cmd/leakwatch
func BenchmarkWatchTick(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=hold", "LEAKWATCH_TEST_HOLD="+strconv.Itoa(n), portEnv+"=0", dirEnv+"="+b.TempDir())
		cmd.Stderr = os.Stderr
		pid := startReady(b, cmd, fmt.Sprintf("the child holding %d fds", n))
		b.Run(fmt.Sprintf("fds=%d", n), func(b *testing.B) {
			for b.Loop() {
				snap, err := leakcheck.Take(leakcheck.WithPID(pid), watched)
				if err != nil {
					b.Fatal(err)
				}
				_ = familyCounts(countsOf(snap))
			}
		})
		b.Run(fmt.Sprintf("fds=%d/Compare", n), func(b *testing.B) {
			base, err := leakcheck.Take(leakcheck.WithPID(pid), watched)
			if err != nil {
				b.Fatal(err)
			}
			snap, err := leakcheck.Take(leakcheck.WithPID(pid), watched)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := leakcheck.Compare(base, snap, watched); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// BenchmarkWatchTreeTick measures what a --tree watch does every
// --interval to a tree of a shell and n children (sleep): one full
// snapshot of each process, counted, plus the walk of the tree.
//
//	go test -run='^$' -bench=WatchTreeTick -benchtime=2s ./cmd/leakwatch
func BenchmarkWatchTreeTick(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		cmd := exec.Command("sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do sleep 600 & i=$((i+1)); done; echo ready; wait`, n))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		pid := startReady(b, cmd, fmt.Sprintf("the tree of %d", n))
		b.Run(fmt.Sprintf("procs=%d", n+1), func(b *testing.B) {
			t := newTree(pid)
			i := 0
			for b.Loop() {
				snap, err := leakcheck.Take(leakcheck.WithPID(pid), watched)
				if err != nil {
					b.Fatal(err)
				}
				members, _ := t.sample(i, time.Now(), 0, "sh", snap)
				if len(members) != n+1 {
					b.Fatalf("%d processes in the tree, want %d", len(members), n+1)
				}
				i++
			}
		})
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
}

// startReady starts cmd and waits for the first line it prints to be
// "ready"; it returns the process's pid.
func startReady(b *testing.B, cmd *exec.Cmd, what string) int {
	b.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if s := bufio.NewScanner(out); !s.Scan() || s.Text() != "ready" {
		b.Fatalf("%s did not start", what)
	}
	return cmd.Process.Pid
}
