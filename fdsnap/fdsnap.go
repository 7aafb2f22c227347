package fdsnap

import (
	"fmt"
	"strings"
)

// Kind is what a file descriptor refers to.
type Kind uint8

// The kinds of file descriptor fdsnap tells apart. Anonymous-inode fds
// (anon_inode:[...]) get a Kind of their own when the kernel's name is known,
// and AnonInode otherwise; FD.Target keeps the kernel's name either way.
const (
	Unknown     Kind = iota // the link target could not be classified; FD.Target keeps it
	File                    // a regular file
	DeletedFile             // a regular file whose path was unlinked: "(deleted)"
	Dir                     // a directory
	Pipe                    // an anonymous pipe: pipe:[inode]
	FIFO                    // a named pipe opened by path
	Socket                  // socket:[inode]; see package sockstate for what it is
	CharDevice              // a character device such as /dev/null or a tty
	BlockDevice             // a block device
	EventPoll               // anon_inode:[eventpoll], an epoll instance
	EventFD                 // anon_inode:[eventfd]
	TimerFD                 // anon_inode:[timerfd]
	SignalFD                // anon_inode:[signalfd]
	Inotify                 // anon_inode:inotify
	Fanotify                // anon_inode:[fanotify]
	MemFD                   // /memfd:name (deleted), from memfd_create
	PidFD                   // anon_inode:[pidfd] or pidfd:[inode]
	AnonInode               // any other anonymous inode, e.g. anon_inode:[io_uring]
	numKinds
)

var kindNames = [numKinds]string{
	Unknown:     "unknown",
	File:        "file",
	DeletedFile: "deleted file",
	Dir:         "dir",
	Pipe:        "pipe",
	FIFO:        "fifo",
	Socket:      "socket",
	CharDevice:  "chardev",
	BlockDevice: "blockdev",
	EventPoll:   "eventpoll",
	EventFD:     "eventfd",
	TimerFD:     "timerfd",
	SignalFD:    "signalfd",
	Inotify:     "inotify",
	Fanotify:    "fanotify",
	MemFD:       "memfd",
	PidFD:       "pidfd",
	AnonInode:   "anon_inode",
}

// String returns the kind's short name ("eventpoll", "deleted file"), or
// Kind(N) for a value fdsnap does not define.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Kinds lists every Kind fdsnap defines, in order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// FD is one open file descriptor.
type FD struct {
	Num    int    // the descriptor number
	Kind   Kind   // what it refers to
	Target string // the raw /proc/PID/fd/N link target, e.g. "socket:[4242]"
	Dev    uint64 // device of the inode it refers to (0 for pipes, sockets and anon inodes: the target names them)
	Ino    uint64 // inode it refers to; for anon inodes the kernel shares one inode among all of them
	Detail string // what /proc/PID/fdinfo/N adds, with WithDetail: "watching 3 fds", "count 5"
}

// Path returns the file system path for path-backed kinds (without the
// " (deleted)" suffix), and "" for pipes, sockets and anonymous inodes.
func (f FD) Path() string {
	switch f.Kind {
	case File, Dir, FIFO, CharDevice, BlockDevice:
		return f.Target
	case DeletedFile:
		return strings.TrimSuffix(f.Target, deletedSuffix)
	case Unknown:
		if strings.HasPrefix(f.Target, "/") {
			return f.Target
		}
	}
	return ""
}

const deletedSuffix = " (deleted)"

// String describes the descriptor the way a person reads it:
//
//	fd 12 file /data/topic-0/00000000.log (deleted)
//	fd 7 eventpoll (watching 3 fds)
//	fd 9 socket:[48213]
func (f FD) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fd %d ", f.Num)
	b.WriteString(f.Describe())
	return b.String()
}

// Describe is String without the "fd N " prefix, for reports that group
// descriptors by what they are.
func (f FD) Describe() string {
	var s string
	switch f.Kind {
	case File, DeletedFile:
		s = "file " + f.Target
	case Dir:
		s = "dir " + f.Target
	case FIFO:
		s = "fifo " + f.Target
	case CharDevice:
		s = "chardev " + f.Target
	case BlockDevice:
		s = "blockdev " + f.Target
	case MemFD:
		s = "memfd " + strings.TrimSuffix(strings.TrimPrefix(f.Target, "/memfd:"), deletedSuffix)
	case Pipe, Socket:
		s = f.Target
	case EventPoll, EventFD, TimerFD, SignalFD, Inotify, Fanotify, PidFD:
		s = f.Kind.String()
	case AnonInode:
		s = f.Target
	default:
		s = "unknown " + fmt.Sprintf("%q", f.Target)
	}
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	return s
}

// SameObject reports whether a and b refer to the same open object, judged
// by kind, target and device/inode. Anonymous inodes of one kind share an
// inode, so for them it can only compare the kind.
func SameObject(a, b FD) bool {
	return a.Kind == b.Kind && a.Target == b.Target && a.Dev == b.Dev && a.Ino == b.Ino
}

// Snapshot is the set of open descriptors of one process at one moment.
type Snapshot struct {
	PID int  // the process described
	FDs []FD // sorted by Num
}

// Lookup returns the descriptor numbered num.
func (s *Snapshot) Lookup(num int) (FD, bool) {
	lo, hi := 0, len(s.FDs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.FDs[m].Num < num {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.FDs) && s.FDs[lo].Num == num {
		return s.FDs[lo], true
	}
	return FD{}, false
}

// Counts returns how many descriptors of each kind the snapshot holds.
func (s *Snapshot) Counts() map[Kind]int {
	return countKinds(s.FDs)
}

func countKinds(fds []FD) map[Kind]int {
	m := make(map[Kind]int)
	for _, f := range fds {
		m[f.Kind]++
	}
	return m
}

// String lists the snapshot grouped by kind, one descriptor per line.
func (s *Snapshot) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d: %s", s.PID, countLine(len(s.FDs), s.FDs))
	for _, g := range Group(s.FDs) {
		fmt.Fprintf(&b, "\n  %s (%d):", g.Kind, len(g.FDs))
		for _, f := range g.FDs {
			b.WriteString("\n    ")
			b.WriteString(f.String())
		}
	}
	return b.String()
}

// A KindGroup is the descriptors of one kind.
type KindGroup struct {
	Kind Kind
	FDs  []FD
}

// Group splits fds by kind, in Kind order, keeping the order within a kind.
func Group(fds []FD) []KindGroup {
	var byKind [numKinds + 1][]FD
	for _, f := range fds {
		k := f.Kind
		if k >= numKinds {
			k = numKinds
		}
		byKind[k] = append(byKind[k], f)
	}
	var gs []KindGroup
	for _, l := range byKind {
		if len(l) > 0 {
			gs = append(gs, KindGroup{Kind: l[0].Kind, FDs: l})
		}
	}
	return gs
}

// countLine renders "3 fds (1 eventpoll, 2 eventfd)".
func countLine(n int, fds []FD) string {
	noun := "fds"
	if n == 1 {
		noun = "fd"
	}
	s := fmt.Sprintf("%d %s", n, noun)
	gs := Group(fds)
	if len(gs) == 0 {
		return s
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("%d %s", len(g.FDs), g.Kind)
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// Replacement is a descriptor number that refers to a different object in
// the later snapshot: the old one was closed and the number reused.
type Replacement struct {
	Old, New FD
}

// Diff is what changed between two snapshots, by identity: a descriptor
// counts as unchanged only when its number still refers to the same object.
type Diff struct {
	Added    []FD          // numbers open only in the later snapshot
	Removed  []FD          // numbers open only in the earlier snapshot
	Replaced []Replacement // numbers open in both, referring to different objects
}

// Compare returns the difference from before to after.
func Compare(before, after *Snapshot) Diff {
	var d Diff
	a, b := before.FDs, after.FDs
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Num < b[j].Num):
			d.Removed = append(d.Removed, a[i])
			i++
		case i == len(a) || b[j].Num < a[i].Num:
			d.Added = append(d.Added, b[j])
			j++
		default:
			if !SameObject(a[i], b[j]) {
				d.Replaced = append(d.Replaced, Replacement{Old: a[i], New: b[j]})
			}
			i++
			j++
		}
	}
	return d
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Replaced) == 0
}

// Opened returns every descriptor that refers to an object opened since the
// earlier snapshot: the added ones and the new side of each replacement.
func (d Diff) Opened() []FD {
	out := append([]FD(nil), d.Added...)
	for _, r := range d.Replaced {
		out = append(out, r.New)
	}
	return out
}

// Closed returns every descriptor whose object was closed since the earlier
// snapshot: the removed ones and the old side of each replacement.
func (d Diff) Closed() []FD {
	out := append([]FD(nil), d.Removed...)
	for _, r := range d.Replaced {
		out = append(out, r.Old)
	}
	return out
}

// String summarises the diff in one line per direction, then one line per
// descriptor:
//
//	opened 2 fds (1 eventpoll, 1 eventfd); closed 0 fds
//	  + fd 7 eventpoll
//	  + fd 8 eventfd
func (d Diff) String() string {
	if d.Empty() {
		return "no change"
	}
	opened, closed := d.Opened(), d.Closed()
	var b strings.Builder
	fmt.Fprintf(&b, "opened %s; closed %s", countLine(len(opened), opened), countLine(len(closed), closed))
	for _, f := range d.Added {
		b.WriteString("\n  + " + f.String())
	}
	for _, r := range d.Replaced {
		b.WriteString("\n  ~ " + r.Old.String() + " -> " + r.New.Describe())
	}
	for _, f := range d.Removed {
		b.WriteString("\n  - " + f.String())
	}
	return b.String()
}

// Option configures a snapshot.
type Option interface{ apply(*config) }

type config struct {
	detail bool
	since  *Snapshot
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithDetail reads /proc/PID/fdinfo/N for each anonymous-inode descriptor
// and fills FD.Detail: how many fds an epoll watches, an eventfd's counter,
// a timerfd's clock and interval, an inotify's watch count, a signalfd's
// mask, a pidfd's pid. It costs one extra open and read per such fd, so
// frequent samplers leave it off.
func WithDetail() Option {
	return optionFunc(func(c *config) { c.detail = true })
}

// WithSince makes a snapshot of the current process cheaper when most of
// its descriptors are those of an earlier snapshot prev: a descriptor whose
// number is in prev and whose object is still prev's, as fstat(2) on the
// descriptor itself tells (device, inode and file type: no path lookup),
// is copied from prev instead of read again. Anonymous-inode descriptors
// share one inode, so they are always read. The copy keeps prev's Target
// (a file unlinked since is not shown as "(deleted)") and never has
// Detail; take a plain snapshot to describe descriptors for a person.
// It has no effect on another process's descriptors.
func WithSince(prev *Snapshot) Option {
	return optionFunc(func(c *config) { c.since = prev })
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// Take snapshots the open descriptors of the current process. The
// descriptor it uses to read /proc/self/fd is not part of the result.
func Take(opts ...Option) (*Snapshot, error) {
	return take(0, newConfig(opts))
}

// TakePID snapshots the open descriptors of process pid. A pid that does
// not exist (or exits mid-snapshot) gives an error wrapping os.ErrNotExist;
// one this user may not inspect, os.ErrPermission.
func TakePID(pid int, opts ...Option) (*Snapshot, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("fdsnap: invalid pid %d", pid)
	}
	return take(pid, newConfig(opts))
}

// Count returns how many descriptors the current process has open, without
// describing them: cheap enough to sample often.
func Count() (int, error) {
	return count(0)
}

// CountPID is Count for process pid.
func CountPID(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("fdsnap: invalid pid %d", pid)
	}
	return count(pid)
}

// IsSplicePipe reports whether fd, a pipe end of the current process, is one
// of the pipes the standard library keeps in a pool for splice(2) when
// io.Copy moves data between sockets and files (internal/poll sets their
// buffer to 1 MiB, which is how they are told apart). The pool is emptied
// by the garbage collector, not by the code that copied, so these pipes
// outlive a test without being its leak. fd must come from a snapshot of
// the current process; on other platforms it reports false.
func IsSplicePipe(fd FD) bool {
	return fd.Kind == Pipe && isSplicePipe(fd)
}

// RuntimeFDs returns the descriptors of the current process that the Go
// runtime owns and never closes: the netpoller's eventpoll and eventfd, and
// the cgroup CPU-limit files (cpu.max, cpu.cfs_quota_us, cpu.cfs_period_us)
// that Go ≥ 1.25 keeps open to track GOMAXPROCS. It initialises the
// netpoller if nothing has yet, so that a snapshot taken afterwards already
// holds it; leakcheck calls it before every baseline for that reason.
func RuntimeFDs() ([]FD, error) {
	return runtimeFDs()
}
