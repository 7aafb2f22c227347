package fdsnap_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
)

// TestLargeTable checks a table big enough to be read by several
// goroutines against fstat of every descriptor: each is listed once, in
// order, with the right kind and inode, and one closed before the
// snapshot is absent.
func TestLargeTable(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Log("GOMAXPROCS 1: the table is read serially")
	}
	var rl unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &rl))
	const n = 3000
	if rl.Cur < n+100 {
		rl.Cur = min(rl.Max, n+200)
		require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &rl), "raising RLIMIT_NOFILE to open %d fds", n)
	}
	want := map[int]fdsnap.Kind{}
	dir := t.TempDir()
	for i := 0; len(want) < n; i++ {
		switch i % 3 {
		case 0:
			fd := mustFD(t)(unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
			want[fd] = fdsnap.Socket
		case 1:
			var p [2]int
			require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
			for _, fd := range p {
				t.Cleanup(func() { unix.Close(fd) })
				want[fd] = fdsnap.Pipe
			}
		default:
			fd := mustFD(t)(unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0))
			want[fd] = fdsnap.Dir
		}
	}
	// One closed in the middle of the table must not be listed.
	closed, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	for range 500 {
		fd := mustFD(t)(unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
		want[fd] = fdsnap.Socket
	}
	require.NoError(t, unix.Close(closed))

	s, err := fdsnap.Take()
	require.NoError(t, err)
	seen := 0
	for i, f := range s.FDs {
		if i > 0 {
			require.Less(t, s.FDs[i-1].Num, f.Num, "FDs out of order or repeated")
		}
		require.NotEqual(t, closed, f.Num, "fd %d was closed before the snapshot", closed)
		kind, ours := want[f.Num]
		if !ours {
			continue
		}
		seen++
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(f.Num, &st))
		require.Equal(t, kind, f.Kind, "fd %d: %s", f.Num, f)
		require.Equal(t, st.Ino, f.Ino, "fd %d: %s", f.Num, f)
	}
	require.Equal(t, len(want), seen, "descriptors missing from the snapshot")
}
