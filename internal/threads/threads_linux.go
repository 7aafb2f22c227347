package threads

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

var procFS = os.DirFS("/proc")

func list(pid int) ([]Thread, error) { return ListFS(procFS, pid) }

// count stats /proc/PID/task: its link count is 2 plus the number of
// threads. That is one system call, against open+read+parse for status
// (see BenchmarkCount). Kernels that report no sensible link count fall
// back to status.
func count(pid int) (int, error) {
	var st unix.Stat_t
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
