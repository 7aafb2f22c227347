package origin

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Measured with (2 CPUs):
//
//	go test -run '^$' -bench Overhead -benchtime 1x ./internal/origin/
//	go test -run '^$' -bench StartClose -benchtime 30x ./internal/origin/
//	go test -run '^$' -bench MapMemory -benchtime 1x ./internal/origin/
//
// BenchmarkOverhead alternates rounds with the tracer off and on in one
// process and reports medians of thread CPU time, so neither drift nor the
// other work of a shared machine favours a side.

const (
	rounds        = 11
	pairsPerRound = 20000
)

// BenchmarkOverhead: one os.Open+Close pair (openat, a failing epoll_ctl,
// close) and one getppid (a syscall the tracer ignores), with no tracer,
// with a tracer on this process, and with a tracer on another process (this
// process's syscalls are filtered out); and what Start and Close cost.
func BenchmarkOverhead(b *testing.B) {
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	// The first Start pays cilium/ebpf's one-time feature probes.
	t0 := time.Now()
	tr, err := Start(os.Getpid())
	if err != nil {
		b.Skip(err)
	}
	first := time.Since(t0)
	tr.Close()

	var off, self, filtered, ppidOff, ppidSelf, starts, closes []float64
	for range rounds {
		off = append(off, openClose(b))
		ppidOff = append(ppidOff, getppid())

		t0 := time.Now()
		tr, err := Start(os.Getpid())
		if err != nil {
			b.Fatal(err)
		}
		starts = append(starts, float64(time.Since(t0).Nanoseconds()))
		self = append(self, openClose(b))
		ppidSelf = append(ppidSelf, getppid())
		t0 = time.Now()
		tr.Close()
		closes = append(closes, float64(time.Since(t0).Nanoseconds()))

		tr, err = Start(other.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		filtered = append(filtered, openClose(b))
		tr.Close()
	}
	b.ReportMetric(median(off), "ns/pair-off")
	b.ReportMetric(median(self), "ns/pair-traced")
	b.ReportMetric(median(filtered), "ns/pair-filtered")
	b.ReportMetric(median(ppidOff), "ns/getppid-off")
	b.ReportMetric(median(ppidSelf), "ns/getppid-traced")
	b.ReportMetric(median(starts)/1e3, "µs/Start")
	b.ReportMetric(median(closes)/1e3, "µs/Close")
	b.ReportMetric(float64(first.Microseconds()), "µs/first-Start")
}

// openClose returns the mean CPU ns of one os.Open+Close pair over a round.
func openClose(b testing.TB) float64 {
	return perCall(func() {
		f, err := os.Open("/etc/hostname")
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	})
}

// getppid returns the mean CPU ns of a syscall that creates nothing.
func getppid() float64 { return perCall(func() { syscall.Getppid() }) }

// perCall returns the mean CPU time of f over a round, user and kernel, on
// the thread that runs it (CLOCK_THREAD_CPUTIME_ID): on a machine shared
// with other work, time spent waiting for a CPU is not counted.
func perCall(f func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	for range pairsPerRound {
		f()
	}
	return float64(threadCPU()-t0) / pairsPerRound
}

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkStartClose: the cost of one tracer for one check, alone (its
// attach enables the kernel's syscall-exit tracepoint, patching kernel text
// on every CPU) and beside another tracer that keeps it enabled.
func BenchmarkStartClose(b *testing.B) {
	if tr, err := Start(os.Getpid()); err != nil {
		b.Skip(err)
	} else {
		tr.Close()
	}
	run := func(b *testing.B) {
		var starts, closes []float64
		for b.Loop() {
			t0 := time.Now()
			tr, err := Start(os.Getpid())
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			tr.Close()
			starts = append(starts, float64(t1.Sub(t0).Nanoseconds()))
			closes = append(closes, float64(time.Since(t1).Nanoseconds()))
		}
		b.ReportMetric(median(starts)/1e3, "µs/Start")
		b.ReportMetric(median(closes)/1e3, "µs/Close")
	}
	b.Run("alone", run)
	b.Run("beside", func(b *testing.B) {
		other, err := Start(os.Getpid())
		if err != nil {
			b.Fatal(err)
		}
		defer other.Close()
		run(b)
	})
}

// BenchmarkMapMemory reports what the kernel charges for the maps (their
// fdinfo memlock): empty, and per descriptor number recorded, over 1000.
func BenchmarkMapMemory(b *testing.B) {
	const n = 1000
	for b.Loop() {
		tr, err := Start(os.Getpid())
		if err != nil {
			b.Skip(err)
		}
		empty := memlock(b, tr.t)
		files := make([]*os.File, 0, n)
		for range n {
			f, err := os.Open("/etc/hostname")
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, f)
		}
		full := memlock(b, tr.t)
		for _, f := range files {
			f.Close()
		}
		tr.Close()
		var sum int
		for _, v := range empty {
			sum += v
		}
		b.ReportMetric(float64(sum), "B/empty")
		b.ReportMetric(float64(empty["leakcheck_fds"]), "B/empty-fds")
		b.ReportMetric(float64(empty["leakcheck_kids"]), "B/empty-children")
		b.ReportMetric(float64(full["leakcheck_fds"]-empty["leakcheck_fds"])/n, "B/fd")
	}
}

// memlock reads the memlock line of each map's fdinfo, by map name.
func memlock(b *testing.B, t *tracer) map[string]int {
	out := map[string]int{}
	for _, m := range []*ebpf.Map{t.globals, t.scratch, t.fds, t.children} {
		info, err := m.Info()
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Open("/proc/self/fdinfo/" + strconv.Itoa(m.FD()))
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "memlock:"); ok {
				out[info.Name], _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		f.Close()
	}
	return out
}
