package threads

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/internal/procfs"
)

var procFS = os.DirFS("/proc")

func ownNames(pid int) []string { return OwnNamesFS(procFS, pid) }

// list reads /proc/PID/task with a directory descriptor: one getdents for
// the TIDs, then openat+read+close of each TID's comm relative to it, which
// spares the path walk from /proc that ListFS pays per thread.
func list(pid int, prev []Thread) ([]Thread, error) {
	dir, err := openRetry("/proc/"+procName(pid)+"/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, procErr(pid, err)
	}
	defer unix.Close(dir)
	var tids []int
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dir, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, procErr(pid, err)
		}
		if n <= 0 {
			break
		}
		tids = procfs.AppendDirentNumbers(tids, buf[:n])
	}
	out := make([]Thread, 0, len(tids))
	var comm [64]byte
	known := make(map[int]string, len(prev))
	for _, t := range prev {
		known[t.TID] = t.Name
	}
	for _, tid := range tids {
		if name, ok := known[tid]; ok {
			out = append(out, Thread{TID: tid, Name: name})
			continue
		}
		fd, err := openatRetry(dir, strconv.Itoa(tid)+"/comm", unix.O_RDONLY|unix.O_CLOEXEC)
		if err != nil {
			if isGone(err) {
				continue // the thread exited after the directory was read
			}
			return nil, procErr(pid, err)
		}
		n, err := unix.Read(fd, comm[:])
		unix.Close(fd)
		if err != nil {
			if isGone(err) {
				continue
			}
			return nil, procErr(pid, err)
		}
		out = append(out, Thread{TID: tid, Name: ParseComm(comm[:n])})
	}
	if len(out) == 0 {
		// Every thread went away: the process did.
		return nil, procErr(pid, unix.ENOENT)
	}
	slices.SortFunc(out, func(a, b Thread) int { return a.TID - b.TID })
	return out, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func openatRetry(dir int, path string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dir, path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// count stats /proc/PID/task: its link count is 2 plus the number of
// threads. That is one system call, against open+read+parse for status
// (see BenchmarkCount). Kernels that report no sensible link count fall
// back to status.
// selfTask is a descriptor on /proc/self/task kept for Count(0): fstat on
// it costs a few hundred nanoseconds, with no path walk.
var selfTask = sync.OnceValues(func() (int, error) {
	return openRetry("/proc/self/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
})

func count(pid int) (int, error) {
	var st unix.Stat_t
	if pid == 0 {
		if fd, err := selfTask(); err == nil && unix.Fstat(fd, &st) == nil && st.Nlink > 2 {
			return int(st.Nlink) - 2, nil
		}
	}
	if err := unix.Stat("/proc/"+procName(pid)+"/task", &st); err != nil {
		return 0, procErr(pid, err)
	}
	if st.Nlink > 2 {
		return int(st.Nlink) - 2, nil
	}
	return CountFS(procFS, pid)
}

// isGone reports whether err means the process or thread no longer exists:
// ENOENT, or ESRCH from a task that died while its file was open.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
}
