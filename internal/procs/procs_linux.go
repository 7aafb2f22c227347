package procs

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/internal/procfs"
)

// Children lists the children of process pid (see ChildrenFS), with raw
// system calls: one directory descriptor on /proc/PID/task, a getdents,
// then an openat+read+close of each thread's children file relative to
// it, sparing the path walk and the *os.File that os.ReadFile pays.
func Children(pid int) ([]Process, error) {
	dir, err := retry(func() (int, error) {
		return unix.Open("/proc/"+strconv.Itoa(pid)+"/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("procs: pid %d: %w", pid, err)
	}
	defer unix.Close(dir)
	var tids []int
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(dir, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("procs: pid %d: %w", pid, err)
		}
		if n <= 0 {
			break
		}
		tids = procfs.AppendDirentNumbers(tids, buf[:n])
	}
	var pids []int
	files := 0
	for _, tid := range tids {
		b, err := readAt(dir, strconv.Itoa(tid)+"/children", buf)
		if err != nil {
			if gone(err) {
				continue // the thread exited after the directory was read
			}
			return nil, fmt.Errorf("procs: pid %d: %w", pid, err)
		}
		files++
		kids, err := ParseChildren(b)
		if err != nil {
			return nil, err
		}
		pids = append(pids, kids...)
	}
	if len(tids) > 0 && files == 0 {
		if _, err := readAt(dir, strconv.Itoa(tids[0])+"/stat", buf); err == nil {
			return nil, fmt.Errorf("procs: pid %d: this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): %w", pid, errors.ErrUnsupported)
		}
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	out := make([]Process, 0, len(pids))
	for _, c := range pids {
		p, err := readChild(c, buf)
		if err != nil {
			if gone(err) {
				continue // reaped meanwhile
			}
			return nil, fmt.Errorf("procs: child %d of pid %d: %w", c, pid, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Descendants lists every descendant of process pid (see DescendantsFS),
// reading each one's children as Children does.
func Descendants(pid int) ([]Process, error) { return descendants(pid, Children, gone) }

func readChild(pid int, buf []byte) (Process, error) {
	proc := "/proc/" + strconv.Itoa(pid)
	b, err := readAt(unix.AT_FDCWD, proc+"/stat", buf)
	if err != nil {
		return Process{}, err
	}
	p, err := ParseStat(b)
	if err != nil {
		return Process{}, err
	}
	if b, err := readAt(unix.AT_FDCWD, proc+"/cmdline", buf); err == nil {
		p.Args = ParseCmdline(b)
	}
	return p, nil
}

// readAt reads a small /proc file whole into buf (its contents are only
// valid until buf is reused).
func readAt(dir int, path string, buf []byte) ([]byte, error) {
	fd, err := retry(func() (int, error) { return unix.Openat(dir, path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

func retry(f func() (int, error)) (int, error) {
	for {
		fd, err := f()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// gone reports whether err means the process or thread no longer exists.
func gone(err error) bool { return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) }

// HasNone reports whether the current process has no child at all, running
// or exited, with one waitid(2) that reaps nothing (WNOWAIT): ECHILD is
// the kernel saying so. false means "has children, or cannot tell".
func HasNone() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WSTOPPED|unix.WCONTINUED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err == unix.ECHILD
	}
}
