package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/leakcheck/go/leakcheck"
)

// BenchmarkWatchTick measures what a watch does every --interval to a
// process holding about n descriptors: one full snapshot, counted by
// category and compared with the first (leakcheck.Compare), which a watch
// keeps so that the final diff survives the process exiting.
//
//	go test -run='^$' -bench=WatchTick -benchtime=2s ./cmd/leakwatch
func BenchmarkWatchTick(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=hold", "LEAKWATCH_TEST_HOLD="+strconv.Itoa(n))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if s := bufio.NewScanner(out); !s.Scan() || s.Text() != "ready" {
			b.Fatalf("child holding %d fds did not start", n)
		}
		pid := cmd.Process.Pid
		b.Run(fmt.Sprintf("fds=%d", n), func(b *testing.B) {
			base, err := leakcheck.Take(leakcheck.WithPID(pid), watched)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				snap, err := leakcheck.Take(leakcheck.WithPID(pid), watched)
				if err != nil {
					b.Fatal(err)
				}
				_ = countsOf(snap)
				if _, err := leakcheck.Compare(base, snap, watched); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
