package origin

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// legacyCases are the creations by syscalls that x/sys/unix maps to their
// newer forms (open → openat, pipe → pipe2, …) and that only amd64 has:
// called by number.
func legacyCases(path string) []struct {
	syscall string
	create  func(t *testing.T) (fds []int, at site)
} {
	ptr := func(t *testing.T, s string) uintptr {
		p, err := unix.BytePtrFromString(s)
		require.NoError(t, err)
		return uintptr(unsafe.Pointer(p))
	}
	fdOf := func(t *testing.T, r uintptr, errno unix.Errno) []int {
		t.Helper()
		require.Zero(t, errno)
		return []int{int(r)}
	}
	return []struct {
		syscall string
		create  func(t *testing.T) (fds []int, at site)
	}{
		{"open", func(t *testing.T) ([]int, site) {
			p := ptr(t, path)
			r, _, errno := unix.Syscall(unix.SYS_OPEN, p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"creat", func(t *testing.T) ([]int, site) {
			p := ptr(t, path+".creat")
			r, _, errno := unix.Syscall(unix.SYS_CREAT, p, 0o600, 0)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"pipe", func(t *testing.T) ([]int, site) {
			var p [2]int32
			_, _, errno := unix.RawSyscall(unix.SYS_PIPE, uintptr(unsafe.Pointer(&p)), 0, 0)
			at := here().up(1)
			require.Zero(t, errno)
			return []int{int(p[0]), int(p[1])}, at
		}},
		{"epoll_create", func(t *testing.T) ([]int, site) {
			r, _, errno := unix.RawSyscall(unix.SYS_EPOLL_CREATE, 1, 0, 0)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"eventfd", func(t *testing.T) ([]int, site) {
			r, _, errno := unix.RawSyscall(unix.SYS_EVENTFD, 0, 0, 0)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"inotify_init", func(t *testing.T) ([]int, site) {
			r, _, errno := unix.RawSyscall(unix.SYS_INOTIFY_INIT, 0, 0, 0)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"signalfd", func(t *testing.T) ([]int, site) {
			var set unix.Sigset_t
			r, _, errno := unix.RawSyscall(unix.SYS_SIGNALFD, ^uintptr(0), uintptr(unsafe.Pointer(&set)), 8)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"dup2", func(t *testing.T) ([]int, site) {
			fd, err := unix.Dup(0)
			require.NoError(t, err)
			_, _, errno := unix.RawSyscall(unix.SYS_DUP2, 1, uintptr(fd), 0)
			return fdOf(t, uintptr(fd), errno), here().up(1)
		}},
		{"accept", func(t *testing.T) ([]int, site) {
			l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			closeAll(t, l)
			addr := &unix.SockaddrUnix{Name: filepath.Join(t.TempDir(), "s")}
			require.NoError(t, unix.Bind(l, addr))
			require.NoError(t, unix.Listen(l, 1))
			c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			closeAll(t, c)
			require.NoError(t, unix.Connect(c, addr))
			r, _, errno := unix.Syscall(unix.SYS_ACCEPT, uintptr(l), 0, 0)
			return fdOf(t, r, errno), here().up(1)
		}},
		{"io_uring_setup", func(t *testing.T) ([]int, site) {
			var params [120]byte // struct io_uring_params
			r, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
			at := here().up(1)
			if errno != 0 {
				t.Skipf("io_uring_setup: %v", errno)
			}
			return []int{int(r)}, at
		}},
	}
}

// TestFDDup2Same: dup2(n, n) creates nothing and keeps n's origin.
func TestFDDup2Same(t *testing.T) {
	tr := startSelf(t)
	f, err := os.Open(thisFile)
	at := here().up(1)
	require.NoError(t, err)
	defer f.Close()
	r, _, errno := unix.RawSyscall(unix.SYS_DUP2, f.Fd(), f.Fd(), 0)
	require.Zero(t, errno)
	require.Equal(t, f.Fd(), r)
	o, ok := tr.FD(int(f.Fd()))
	require.True(t, ok)
	assert.Equal(t, "openat", o.Syscall)
	requireSite(t, o, at)
}

// TestChildFork: a raw fork, whose child leaves at once; the tracer forgets
// the child when it is reaped, not when it is only peeked at.
func TestChildFork(t *testing.T) {
	tr := startSelf(t)
	pid, _, errno := unix.RawSyscall(unix.SYS_FORK, 0, 0, 0)
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0) // the child: nothing Go may run here
	}
	at := here().up(4)
	require.Zero(t, errno)

	var info unix.Siginfo
	require.NoError(t, unix.Waitid(unix.P_PID, int(pid), &info, unix.WEXITED|unix.WNOWAIT, nil))
	o, ok := tr.Child(int(pid))
	require.True(t, ok, "a zombie peeked at with WNOWAIT is still a child")
	assert.Equal(t, "fork", o.Syscall)
	requireSite(t, o, at)

	var status unix.WaitStatus
	_, err := unix.Wait4(int(pid), &status, 0, nil)
	require.NoError(t, err)
	_, ok = tr.Child(int(pid))
	assert.False(t, ok, "reaped by wait4")
}
