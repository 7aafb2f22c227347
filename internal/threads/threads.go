package threads

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Thread is one OS thread (a task, in Linux terms).
type Thread struct {
	TID  int
	Name string // the kernel's comm: at most 15 bytes, the executable's name unless the thread renamed itself
}

// String returns "TID name".
func (t Thread) String() string { return strconv.Itoa(t.TID) + " " + strconv.Quote(t.Name) }

// List returns the threads of process pid (0: the current process), sorted
// by TID. Threads that exit while the list is being read are left out.
func List(pid int) ([]Thread, error) { return list(pid, nil) }

// ListSince is List that reads the name only of threads not in prev (an
// earlier List of the same process): a thread in prev keeps the name it had
// then. It costs one getdents for the TIDs plus one read per new thread, and
// cannot see a thread renamed since prev.
func ListSince(pid int, prev []Thread) ([]Thread, error) { return list(pid, prev) }

// Count returns how many threads process pid (0: the current process) has,
// without reading their names.
func Count(pid int) (int, error) { return count(pid) }

// OwnNames returns the names that the threads of process pid (0: the
// current process) carry when they never named themselves: the base name
// of its executable and of its argv[0], each cut to the kernel's 15 bytes,
// sorted and without repeats. Every thread the Go runtime starts has one of
// them, so leakcheck and leakwatch do not count new threads with these
// names as leaks. It is best effort: what cannot be read (the executable of
// another user's process, a process that exited) is left out, and on
// platforms other than Linux it returns nil.
func OwnNames(pid int) []string { return ownNames(pid) }

// OwnNamesFS is OwnNames over fsys, a tree laid out like /proc: it reads
// the link PID/exe and the first argument of PID/cmdline.
func OwnNamesFS(fsys fs.FS, pid int) []string {
	var names []string
	add := func(p string) {
		p = strings.TrimSuffix(p, " (deleted)") // an executable replaced on disk
		if p == "" {
			return
		}
		base := path.Base(p)
		if len(base) > 15 {
			base = base[:15]
		}
		if !slices.Contains(names, base) {
			names = append(names, base)
		}
	}
	if exe, err := fs.ReadLink(fsys, procName(pid)+"/exe"); err == nil {
		add(exe)
	}
	if b, err := fs.ReadFile(fsys, procName(pid)+"/cmdline"); err == nil {
		argv0, _, _ := bytes.Cut(b, []byte{0})
		add(string(argv0))
	}
	slices.Sort(names)
	return names
}

// ListFS is List over fsys, a tree laid out like /proc (pid 0 reads "self").
func ListFS(fsys fs.FS, pid int) ([]Thread, error) {
	dir := procName(pid) + "/task"
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, procErr(pid, err)
	}
	out := make([]Thread, 0, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil || tid <= 0 {
			continue
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name()+"/comm")
		if err != nil {
			if isGone(err) {
				continue // the thread exited after the directory was read
			}
			return nil, procErr(pid, err)
		}
		out = append(out, Thread{TID: tid, Name: ParseComm(b)})
	}
	if len(out) == 0 {
		// Every thread went away: the process did.
		if _, err := fs.Stat(fsys, procName(pid)); err != nil {
			return nil, procErr(pid, err)
		}
	}
	slices.SortFunc(out, func(a, b Thread) int { return a.TID - b.TID })
	return out, nil
}

// CountFS is Count over fsys, from the Threads: line of PID/status.
func CountFS(fsys fs.FS, pid int) (int, error) {
	b, err := fs.ReadFile(fsys, procName(pid)+"/status")
	if err != nil {
		return 0, procErr(pid, err)
	}
	n, err := ParseStatusThreads(b)
	if err != nil {
		return 0, fmt.Errorf("threads: %s: %w", who(pid), err)
	}
	return n, nil
}

// ParseComm returns the thread name in the content of /proc/PID/task/TID/comm:
// the name and a newline.
func ParseComm(b []byte) string {
	return string(bytes.TrimSuffix(b, []byte("\n")))
}

// ParseStatusThreads returns the number on the "Threads:" line of the content
// of /proc/PID/status.
func ParseStatusThreads(b []byte) (int, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("Threads:"))
		if !ok {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(rest)))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad Threads: line %q", bytes.TrimSpace(line))
		}
		return n, nil
	}
	return 0, errors.New("no Threads: line in status")
}

func procName(pid int) string {
	if pid == 0 {
		return "self"
	}
	return strconv.Itoa(pid)
}

func who(pid int) string {
	if pid == 0 {
		return "current process"
	}
	return "pid " + strconv.Itoa(pid)
}

// procErr turns a failure to read /proc/PID into an error that names the
// process and wraps os.ErrNotExist or os.ErrPermission.
func procErr(pid int, err error) error {
	switch {
	case isGone(err):
		return fmt.Errorf("threads: %s: no such process: %w", who(pid), os.ErrNotExist)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("threads: %s: permission denied reading its threads (is /proc mounted with hidepid?): %w", who(pid), os.ErrPermission)
	}
	return fmt.Errorf("threads: %s: %w", who(pid), err)
}
