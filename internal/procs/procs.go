// Package procs lists the child processes of a process from /proc: for each
// child its pid, parent, state, command and start time, read from
// /proc/PID/task/TID/children, /proc/CHILD/stat and /proc/CHILD/cmdline.
//
// Descendants walks the whole tree below a process the same way.
//
// The parsers are pure functions over the files' bytes; ChildrenFS and
// DescendantsFS read a tree laid out like /proc, so tests need no live
// process.
package procs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Process is one child process.
type Process struct {
	PID   int
	PPID  int      // the thread group it was forked from (the target, for a child)
	State byte     // the kernel's state letter: 'R', 'S', 'D', 'Z', 'T', …
	Comm  string   // the kernel's comm, at most 15 bytes
	Args  []string // its command line; nil for a zombie (the kernel frees it)
	// Start is when the process started, in clock ticks after boot: with
	// PID, its identity (a pid can be reused, a (pid, start) pair cannot).
	Start uint64
}

// Zombie reports whether the process has exited and its parent has not
// waited for it.
func (p Process) Zombie() bool { return p.State == 'Z' }

// StateName names the process's state letter (proc(5)) for a report:
// "zombie", "stopped", "dead", or "running" (R, S, D, I, W, P, K: alive,
// on a CPU or waiting).
func (p Process) StateName() string {
	switch p.State {
	case 'Z':
		return "zombie"
	case 'T', 't':
		return "stopped"
	case 'X', 'x':
		return "dead"
	}
	return "running"
}

// maxCategory bounds Category: a compiler's or a JVM's command line runs
// to thousands of characters.
const maxCategory = 40

// Category is the process's name as a report's category: the program's
// base name and as many of its arguments as fit in 40 characters, then
// "…" ("sleep 20", "compile -o …"), or the comm when the command line is
// gone.
func (p Process) Category() string {
	if len(p.Args) == 0 {
		return p.Comm
	}
	prog := p.Args[0]
	if i := strings.LastIndexByte(prog, '/'); i >= 0 && i < len(prog)-1 {
		prog = prog[i+1:]
	}
	out := prog
	for _, a := range p.Args[1:] {
		if len(out)+1+len(a) > maxCategory {
			return out + " …"
		}
		out += " " + a
	}
	return out
}

// Command renders the command line, or the comm when the command line is
// gone (a zombie) or empty (a kernel thread).
func (p Process) Command() string {
	if len(p.Args) == 0 {
		return p.Comm
	}
	return strings.Join(p.Args, " ")
}

// ParseStat parses /proc/PID/stat. The comm is between the first '(' and
// the last ')', since it may itself hold spaces and parentheses.
func ParseStat(b []byte) (Process, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Process{}, fmt.Errorf("procs: stat %q: no (comm)", trim(b))
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return Process{}, fmt.Errorf("procs: stat %q: bad pid", trim(b))
	}
	p := Process{PID: pid, Comm: string(b[open+1 : end])}
	// Fields after the comm, counted from 3 as in proc(5): 3 state,
	// 4 ppid, …, 22 starttime.
	fields := strings.Fields(string(b[end+1:]))
	if len(fields) < 20 || len(fields[0]) != 1 {
		return Process{}, fmt.Errorf("procs: stat of pid %d: %d fields after the comm, want at least 20", pid, len(fields))
	}
	p.State = fields[0][0]
	if p.PPID, err = strconv.Atoi(fields[1]); err != nil {
		return Process{}, fmt.Errorf("procs: stat of pid %d: ppid %q", pid, fields[1])
	}
	if p.Start, err = strconv.ParseUint(fields[19], 10, 64); err != nil {
		return Process{}, fmt.Errorf("procs: stat of pid %d: starttime %q", pid, fields[19])
	}
	return p, nil
}

// ParseChildren parses /proc/PID/task/TID/children: pids separated by
// spaces.
func ParseChildren(b []byte) ([]int, error) {
	var out []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("procs: children %q: bad pid %q", trim(b), f)
		}
		out = append(out, pid)
	}
	return out, nil
}

// ParseCmdline splits /proc/PID/cmdline at its NUL bytes.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

func trim(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// ChildrenFS lists the children of process pid from fsys, a tree laid out
// like /proc, sorted by pid: the children of every one of its threads
// (a child belongs to the thread that forked it). Children that exit and
// are reaped while the list is read are left out. A pid that does not exist
// is an error wrapping fs.ErrNotExist.
func ChildrenFS(fsys fs.FS, pid int) ([]Process, error) {
	dir := strconv.Itoa(pid) + "/task"
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("procs: pid %d: %w", pid, err)
	}
	var pids []int
	for _, e := range ents {
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name()+"/children")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // the thread exited, or a kernel without CONFIG_PROC_CHILDREN (checked below)
			}
			return nil, fmt.Errorf("procs: pid %d: %w", pid, err)
		}
		kids, err := ParseChildren(b)
		if err != nil {
			return nil, err
		}
		pids = append(pids, kids...)
	}
	if len(ents) > 0 && len(pids) == 0 {
		// Tell "no children" from "no children files".
		if _, err := fs.Stat(fsys, dir+"/"+ents[0].Name()+"/children"); errors.Is(err, fs.ErrNotExist) {
			if _, err := fs.Stat(fsys, dir+"/"+ents[0].Name()); err == nil {
				return nil, fmt.Errorf("procs: pid %d: this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): %w", pid, errors.ErrUnsupported)
			}
		}
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	out := make([]Process, 0, len(pids))
	for _, c := range pids {
		b, err := fs.ReadFile(fsys, strconv.Itoa(c)+"/stat")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // reaped meanwhile
			}
			return nil, fmt.Errorf("procs: child %d of pid %d: %w", c, pid, err)
		}
		p, err := ParseStat(b)
		if err != nil {
			return nil, err
		}
		if b, err := fs.ReadFile(fsys, strconv.Itoa(c)+"/cmdline"); err == nil {
			p.Args = ParseCmdline(b)
		}
		out = append(out, p)
	}
	return out, nil
}

// DescendantsFS lists every descendant of process pid from fsys (its
// children, theirs, and so on), each generation read as ChildrenFS reads
// children, in the order of a breadth-first walk, each generation sorted by
// pid; a process's PPID says where it hangs. A descendant that exits while
// the tree is read is left out with its descendants (orphans are
// reparented, out of the tree). A pid that does not exist is an error
// wrapping fs.ErrNotExist. A descendant whose children cannot be read (no
// permission) is listed, its own descendants are not, and the error, which
// names it, is returned with every descendant that could be read.
func DescendantsFS(fsys fs.FS, pid int) ([]Process, error) {
	return descendants(pid, func(p int) ([]Process, error) { return ChildrenFS(fsys, p) },
		func(err error) bool { return errors.Is(err, fs.ErrNotExist) })
}

// descendants walks the tree below pid, reading children with children;
// gone tells an error of a process that exited.
func descendants(pid int, children func(int) ([]Process, error), gone func(error) bool) ([]Process, error) {
	kids, err := children(pid)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{pid: true}
	var out []Process
	var errs []error
	for len(kids) > 0 {
		var next []Process
		for _, k := range kids {
			if seen[k.PID] {
				continue // a pid reused while the tree was read: never a cycle
			}
			seen[k.PID] = true
			out = append(out, k)
			if k.Zombie() {
				continue // exited: no children of its own
			}
			gk, err := children(k.PID)
			switch {
			case err == nil:
				next = append(next, gk...)
			case gone(err):
				// exited meanwhile
			default:
				errs = append(errs, fmt.Errorf("procs: the children of pid %d (%s): %w", k.PID, k.Comm, err))
			}
		}
		slices.SortFunc(next, func(a, b Process) int { return a.PID - b.PID })
		kids = next
	}
	return out, errors.Join(errs...)
}
