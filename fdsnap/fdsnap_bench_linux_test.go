package fdsnap_test

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
)

// openMix opens about n descriptors shaped like a busy server's table:
// 80% sockets, 10% pipe ends, 10% regular files.
func openMix(b *testing.B, n int) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	}
	var fds []int
	b.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	dir := b.TempDir()
	for i := 0; len(fds) < n; i++ {
		switch {
		case i%10 == 8:
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				b.Fatal(err)
			}
			fds = append(fds, p[0], p[1])
		case i%10 == 9:
			fd, err := unix.Open(dir+"/f"+strconv.Itoa(i), unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
		default:
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
		}
	}
}

var sizes = []int{10, 1000, 10000}

// BenchmarkTake is the full categorized snapshot of the current process.
func BenchmarkTake(b *testing.B) {
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			openMix(b, n)
			b.ResetTimer()
			for b.Loop() {
				if _, err := fdsnap.Take(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareReadlinkLoop is the baseline Take is measured against: list
// /proc/self/fd and readlink every entry, with no classification at all.
func BenchmarkBareReadlinkLoop(b *testing.B) {
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			openMix(b, n)
			b.ResetTimer()
			for b.Loop() {
				entries, err := os.ReadDir("/proc/self/fd")
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range entries {
					_, _ = os.Readlink("/proc/self/fd/" + e.Name())
				}
			}
		})
	}
}

// BenchmarkCount is the count-only path soak tests sample with.
func BenchmarkCount(b *testing.B) {
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			openMix(b, n)
			b.ResetTimer()
			for b.Loop() {
				if _, err := fdsnap.Count(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
