package fdsnap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/internal/procfs"
)

// selfDir is a descriptor on /proc/self/fd kept open for the life of the
// process, opened on the first snapshot of the current process. Keeping it
// lets snapshots work when the fd table is full (EMFILE), spares the path
// walk of /proc/self/fd on every call, and gives it a fixed number that the
// snapshot leaves out. It is O_CLOEXEC, so children never inherit it.
var selfDir struct {
	sync.Mutex
	fd  int // -1 until opened
	buf []byte
}

func init() { selfDir.fd = -1 }

// procDir opens /proc/PID/fd (pid 0: the current process, through the
// long-lived selfDir; the caller must hold selfDir's lock).
func procDir(pid int) (fd int, owned bool, err error) {
	if pid == 0 {
		if selfDir.fd >= 0 {
			if _, err := unix.Seek(selfDir.fd, 0, 0); err != nil {
				return -1, false, fmt.Errorf("fdsnap: rewinding /proc/self/fd: %w", err)
			}
			return selfDir.fd, false, nil
		}
		fd, err := openDir("/proc/self/fd")
		if err != nil {
			return -1, false, procErr(0, err)
		}
		selfDir.fd = fd
		return fd, false, nil
	}
	fd, err = openDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1, false, procErr(pid, err)
	}
	return fd, true, nil
}

func openDir(p string) (int, error) {
	for {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// procErr turns a failure to read /proc/PID into an error that names the
// process and wraps os.ErrNotExist, os.ErrPermission or the fd limit.
func procErr(pid int, err error) error {
	who := "pid " + strconv.Itoa(pid)
	if pid == 0 {
		who = "current process"
	}
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
		return fmt.Errorf("fdsnap: %s: no such process: %w", who, os.ErrNotExist)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("fdsnap: %s: permission denied reading its descriptors: %w", who, os.ErrPermission)
	case errors.Is(err, unix.EMFILE):
		var rl unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		return fmt.Errorf("fdsnap: %s: the fd table is full (RLIMIT_NOFILE soft limit %d reached), cannot open /proc to list it: %w", who, rl.Cur, err)
	}
	return fmt.Errorf("fdsnap: %s: %w", who, err)
}

func take(pid int, cfg config) (*Snapshot, error) {
	if pid == os.Getpid() {
		pid = 0
	}
	if pid == 0 {
		selfDir.Lock()
		defer selfDir.Unlock()
	}
	dir, owned, err := procDir(pid)
	if err != nil {
		return nil, err
	}
	if owned {
		defer unix.Close(dir)
	}
	var buf []byte
	if pid == 0 {
		if selfDir.buf == nil {
			selfDir.buf = make([]byte, 32<<10)
		}
		buf = selfDir.buf
	} else {
		buf = make([]byte, 32<<10)
	}
	nums, err := listDir(dir, buf)
	if err != nil {
		return nil, procErr(pid, err)
	}
	if pid == 0 {
		// Our own descriptor on /proc/self/fd is not part of the snapshot.
		nums = slices.DeleteFunc(nums, func(n int) bool { return n == dir })
	}
	snap := &Snapshot{PID: pid}
	if pid == 0 {
		snap.PID = os.Getpid()
	}
	var missing int
	var reused []FD
	if pid == 0 && cfg.since != nil && cfg.since.PID == snap.PID {
		nums, reused = reuse(cfg.since, nums)
	}
	snap.FDs, missing, err = describeAll(dir, nums)
	if len(reused) > 0 {
		snap.FDs = append(snap.FDs, reused...)
		slices.SortFunc(snap.FDs, func(a, b FD) int { return a.Num - b.Num })
	}
	if err != nil {
		return nil, procErr(pid, err)
	}
	if (missing > 0 || len(snap.FDs) == 0) && pid != 0 && !alive(pid) {
		return nil, procErr(pid, unix.ESRCH)
	}
	if cfg.detail {
		addDetail(pid, snap.FDs)
	}
	return snap, nil
}

// reuse splits the descriptor numbers of this process into those that
// must be read and those prev already describes: same number, and fstat on
// the descriptor finds prev's object (see WithSince).
func reuse(prev *Snapshot, nums []int) (read []int, reused []FD) {
	read = nums[:0:0]
	for _, n := range nums {
		if p, ok := prev.Lookup(n); ok && stillSame(p) {
			reused = append(reused, p)
			continue
		}
		read = append(read, n)
	}
	return read, reused
}

// stillSame reports whether descriptor p.Num of this process still refers
// to the object p describes.
func stillSame(p FD) bool {
	var st unix.Stat_t
	for {
		err := unix.Fstat(p.Num, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		break
	}
	typ := st.Mode & unix.S_IFMT
	switch p.Kind {
	case Pipe:
		return typ == unix.S_IFIFO && p.Ino != 0 && st.Ino == p.Ino
	case Socket:
		return typ == unix.S_IFSOCK && p.Ino != 0 && st.Ino == p.Ino
	case File, DeletedFile, Dir, FIFO, CharDevice, BlockDevice, MemFD:
		return p.Ino != 0 && st.Dev == p.Dev && st.Ino == p.Ino && typ == kindMode(p.Kind)
	}
	return false // anonymous inodes share one inode: read them
}

// kindMode is the file type a descriptor kind has in st_mode (regular for
// files, deleted or not, and memfds).
func kindMode(k Kind) uint32 {
	switch k {
	case Dir:
		return unix.S_IFDIR
	case FIFO:
		return unix.S_IFIFO
	case CharDevice:
		return unix.S_IFCHR
	case BlockDevice:
		return unix.S_IFBLK
	}
	return unix.S_IFREG
}

// alive reports whether pid still has an fd table to read (a zombie has none).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the last ')' (the command name may hold parentheses).
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// listDir returns the descriptor numbers in an open /proc/PID/fd, sorted.
func listDir(dir int, buf []byte) ([]int, error) {
	var nums []int
	for {
		n, err := unix.Getdents(dir, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		nums = procfs.AppendDirentNumbers(nums, buf[:n])
	}
	slices.Sort(nums)
	return nums, nil
}

// Tables of parallelFrom descriptors or more are read by several
// goroutines, parallelChunk descriptors at a time: each readlinkat costs
// the kernel about 2 µs (a path lookup and a ptrace access check), and at
// 10 000 fds a second core halves the wall time when it is free. Below
// that, starting goroutines costs more than it saves.
const (
	parallelFrom  = 1024
	parallelChunk = 256
	maxWorkers    = 4
)

// describeAll describes the descriptors nums (sorted) of the open
// /proc/PID/fd dir, in order. missing counts those closed meanwhile.
func describeAll(dir int, nums []int) (fds []FD, missing int, err error) {
	workers := min(runtime.GOMAXPROCS(0), maxWorkers, len(nums)/parallelChunk)
	if len(nums) < parallelFrom || workers < 2 {
		fds = make([]FD, 0, len(nums))
		var link [4096]byte
		for _, n := range nums {
			fd, ok, err := describe(dir, n, &link)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				missing++
				continue
			}
			fds = append(fds, fd)
		}
		return fds, missing, nil
	}
	fds = make([]FD, len(nums))
	found := make([]bool, len(nums))
	var next atomic.Int64 // the next chunk to take
	type failure struct {
		at  int
		err error
	}
	fails := make([]failure, workers)
	var wg sync.WaitGroup
	for w := range workers {
		fails[w].at = len(nums)
		wg.Go(func() {
			var link [4096]byte
			for {
				start := int(next.Add(1)-1) * parallelChunk
				if start >= len(nums) || fails[w].err != nil {
					return
				}
				for i := start; i < min(start+parallelChunk, len(nums)); i++ {
					fd, ok, err := describe(dir, nums[i], &link)
					if err != nil {
						fails[w] = failure{i, err}
						break
					}
					fds[i], found[i] = fd, ok
				}
			}
		})
	}
	wg.Wait()
	first := failure{at: len(nums)}
	for _, f := range fails {
		if f.err != nil && f.at < first.at {
			first = f
		}
	}
	if first.err != nil {
		return nil, 0, first.err
	}
	j := 0
	for i := range fds {
		if found[i] {
			fds[j] = fds[i]
			j++
		} else {
			missing++
		}
	}
	clear(fds[j:]) // drop the strings of the tail
	return fds[:j], missing, nil
}

// readlinkNum reads the link of descriptor num in the open /proc/PID/fd
// dir into link. It is unix.Readlinkat without the two allocations per call
// (the name string and its C copy) that show in a table of 10 000 fds.
func readlinkNum(dir, num int, link *[4096]byte) (int, error) {
	var name [24]byte
	b := strconv.AppendInt(name[:0], int64(num), 10)
	b = append(b, 0)
	for {
		n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dir), uintptr(unsafe.Pointer(&b[0])),
			uintptr(unsafe.Pointer(&link[0])), uintptr(len(link)), 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// describe reads one descriptor. ok is false when it was closed in the
// meantime.
func describe(dir, num int, link *[4096]byte) (FD, bool, error) {
	n, err := readlinkNum(dir, num, link)
	if err != nil {
		if err == unix.ENOENT {
			return FD{}, false, nil
		}
		return FD{}, false, err
	}
	target := string(link[:n])
	name := func() string { return strconv.Itoa(num) }
	fd := FD{Num: num, Target: target}
	t := procfs.ParseTarget(target)
	switch t.Type {
	case procfs.TargetPipe:
		fd.Kind, fd.Ino = Pipe, t.Ino
	case procfs.TargetSocket:
		fd.Kind, fd.Ino = Socket, t.Ino
	case procfs.TargetPidfs:
		fd.Kind, fd.Ino = PidFD, t.Ino
	case procfs.TargetAnon:
		fd.Kind = anonKind(t.Name)
	case procfs.TargetMemfd:
		fd.Kind = MemFD
		var st unix.Stat_t
		if fstatat(dir, name(), &st) == nil {
			fd.Dev, fd.Ino = st.Dev, st.Ino
		}
	case procfs.TargetPath, procfs.TargetDeleted:
		var st unix.Stat_t
		if err := fstatat(dir, name(), &st); err != nil {
			if err == unix.ENOENT {
				return FD{}, false, nil
			}
			// The path is known; only its identity is not (e.g. EACCES on a
			// file another user owns, seen through a foreign fd table).
			fd.Kind = File
			if t.Type == procfs.TargetDeleted {
				fd.Kind = DeletedFile
			}
			return fd, true, nil
		}
		fd.Dev, fd.Ino = st.Dev, st.Ino
		fd.Kind = modeKind(st.Mode, t.Type == procfs.TargetDeleted)
	default:
		fd.Kind = Unknown
	}
	return fd, true, nil
}

func fstatat(dir int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dir, name, st, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

func modeKind(mode uint32, deleted bool) Kind {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return Dir
	case unix.S_IFIFO:
		return FIFO
	case unix.S_IFCHR:
		return CharDevice
	case unix.S_IFBLK:
		return BlockDevice
	case unix.S_IFSOCK:
		return Socket
	}
	if deleted {
		return DeletedFile
	}
	return File
}

func anonKind(name string) Kind {
	switch name {
	case "eventpoll":
		return EventPoll
	case "eventfd":
		return EventFD
	case "timerfd":
		return TimerFD
	case "signalfd":
		return SignalFD
	case "inotify":
		return Inotify
	case "fanotify":
		return Fanotify
	case "pidfd":
		return PidFD
	}
	return AnonInode
}

// addDetail fills Detail for anonymous-inode descriptors from fdinfo. A
// descriptor closed meanwhile, or an fd table too full to open fdinfo,
// leaves Detail empty.
func addDetail(pid int, fds []FD) {
	prefix := "/proc/self/fdinfo/"
	if pid != 0 {
		prefix = "/proc/" + strconv.Itoa(pid) + "/fdinfo/"
	}
	for i := range fds {
		switch fds[i].Kind {
		case EventPoll, EventFD, TimerFD, SignalFD, Inotify, Fanotify, PidFD:
		default:
			continue
		}
		b, err := os.ReadFile(prefix + strconv.Itoa(fds[i].Num))
		if err != nil {
			continue
		}
		info, err := procfs.ParseFDInfo(b)
		if err != nil {
			fds[i].Detail = "unreadable fdinfo"
			continue
		}
		fds[i].Detail = detailOf(fds[i].Kind, info)
	}
}

// sizeIsCount says whether the kernel reports the number of open
// descriptors as the size of /proc/PID/fd (Linux ≥ 6.2); tests turn it off
// to exercise the listing older kernels need.
var sizeIsCount = true

func count(pid int) (int, error) {
	self := pid == 0 || pid == os.Getpid()
	if self && sizeIsCount {
		// fstat on the descriptor kept on /proc/self/fd spares the path
		// walk: a few hundred nanoseconds, cheap enough to sample every
		// iteration of a soak.
		selfDir.Lock()
		fd := selfDir.fd
		selfDir.Unlock()
		var st unix.Stat_t
		if fd >= 0 && unix.Fstat(fd, &st) == nil && st.Size > 0 {
			return int(st.Size) - 1, nil // less our own descriptor
		}
	}
	p := "/proc/" + strconv.Itoa(pid) + "/fd"
	if self {
		p = "/proc/self/fd"
	}
	// Since Linux 6.2 the size of /proc/PID/fd is the number of open
	// descriptors: one stat, no listing.
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, procErr(pid, err)
	}
	if st.Size > 0 && sizeIsCount {
		n := int(st.Size)
		if self {
			selfDir.Lock()
			if selfDir.fd >= 0 {
				n-- // our own /proc/self/fd descriptor, left out of snapshots too
			}
			selfDir.Unlock()
		}
		return n, nil
	}
	s, err := take(pid, config{})
	if err != nil {
		return 0, err
	}
	return len(s.FDs), nil
}

// The runtime's netpoller never closes its epoll instance and eventfd, so
// once found they are remembered.
var netpoller struct {
	sync.Mutex
	found bool
	fds   []FD
}

func runtimeFDs() ([]FD, error) {
	poller, err := findNetpoller()
	if err != nil {
		return nil, err
	}
	snap, err := take(0, config{})
	if err != nil {
		return nil, err
	}
	var out []FD
	for _, f := range snap.FDs {
		if isCgroupCPUFile(f) {
			out = append(out, f)
			continue
		}
		for _, p := range poller {
			if p.Num == f.Num && p.Kind == f.Kind {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func isCgroupCPUFile(f FD) bool {
	if f.Kind != File {
		return false
	}
	dir, base := path.Split(f.Target)
	if len(dir) < len("/sys/fs/cgroup/") || dir[:len("/sys/fs/cgroup/")] != "/sys/fs/cgroup/" {
		return false
	}
	switch base {
	case "cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us":
		return true
	}
	return false
}

// findNetpoller identifies the Go runtime's epoll instance and eventfd. It
// creates a pipe, which package os registers with the runtime's netpoller
// (initialising the netpoller if nothing has yet), and looks for the epoll
// instance whose fdinfo lists that pipe; the eventfd is the eventfd that
// same instance watches (the runtime uses it to wake a blocked netpoll).
func findNetpoller() ([]FD, error) {
	netpoller.Lock()
	defer netpoller.Unlock()
	if netpoller.found {
		return netpoller.fds, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("fdsnap: finding the runtime's netpoller: %w", err)
	}
	defer r.Close()
	defer w.Close()
	rfd := -1
	if rc, err := r.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { rfd = int(fd) })
	}
	var pipeSt unix.Stat_t
	if err := unix.Fstat(rfd, &pipeSt); err != nil {
		return nil, fmt.Errorf("fdsnap: finding the runtime's netpoller: %w", err)
	}
	snap, err := take(0, config{})
	if err != nil {
		return nil, err
	}
	for _, f := range snap.FDs {
		if f.Kind != EventPoll {
			continue
		}
		b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(f.Num))
		if err != nil {
			continue
		}
		info, err := procfs.ParseFDInfo(b)
		if err != nil {
			continue
		}
		watchesPipe := false
		for _, t := range info.Epoll {
			if t.FD == rfd && t.Ino == pipeSt.Ino {
				watchesPipe = true
			}
		}
		if !watchesPipe {
			continue
		}
		fds := []FD{f}
		for _, t := range info.Epoll {
			if e, ok := snap.Lookup(t.FD); ok && e.Kind == EventFD {
				fds = append(fds, e)
				break
			}
		}
		netpoller.found, netpoller.fds = true, fds
		return fds, nil
	}
	return nil, fmt.Errorf("fdsnap: no epoll instance watches the pipe the runtime's netpoller should hold (fd %d): %w", rfd, syscall.ENOENT)
}

// detailOf renders what fdinfo says about an anonymous-inode descriptor.
func detailOf(k Kind, info procfs.FDInfo) string {
	switch k {
	case EventPoll:
		n := len(info.Epoll)
		if n == 1 {
			return "watching 1 fd"
		}
		return fmt.Sprintf("watching %d fds", n)
	case EventFD:
		if info.HasEventfd {
			return fmt.Sprintf("count %d", info.EventfdCount)
		}
	case TimerFD:
		if !info.HasTimer {
			return ""
		}
		s := clockName(info.TimerClock)
		switch {
		case info.TimerValue == 0 && info.TimerInterval == 0:
			s += ", disarmed"
		case info.TimerInterval == 0:
			s += ", one-shot in " + info.TimerValue.String()
		default:
			s += ", every " + info.TimerInterval.String()
		}
		return s
	case Inotify:
		if info.InotifyWatches == 1 {
			return "1 watch"
		}
		return fmt.Sprintf("%d watches", info.InotifyWatches)
	case Fanotify:
		if info.FanotifyMarks == 1 {
			return "1 mark"
		}
		return fmt.Sprintf("%d marks", info.FanotifyMarks)
	case SignalFD:
		if info.HasSigmask {
			return "signals " + sigmaskNames(info.Sigmask)
		}
	case PidFD:
		if info.HasPid {
			if info.Pid < 0 {
				return "process reaped"
			}
			return fmt.Sprintf("pid %d", info.Pid)
		}
	}
	return ""
}

func clockName(id int) string {
	switch id {
	case unix.CLOCK_REALTIME:
		return "CLOCK_REALTIME"
	case unix.CLOCK_MONOTONIC:
		return "CLOCK_MONOTONIC"
	case unix.CLOCK_BOOTTIME:
		return "CLOCK_BOOTTIME"
	case unix.CLOCK_REALTIME_ALARM:
		return "CLOCK_REALTIME_ALARM"
	case unix.CLOCK_BOOTTIME_ALARM:
		return "CLOCK_BOOTTIME_ALARM"
	}
	return fmt.Sprintf("clock %d", id)
}

func sigmaskNames(mask uint64) string {
	if mask == 0 {
		return "none"
	}
	var names []string
	for sig := 1; sig <= 64; sig++ {
		if mask&(1<<(sig-1)) == 0 {
			continue
		}
		name := unix.SignalName(syscall.Signal(sig))
		if name == "" {
			name = "SIG" + strconv.Itoa(sig)
		}
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

// splicePipeSize is internal/poll's maxSpliceSize: the buffer size it gives
// the pipes of its splice pool.
const splicePipeSize = 1 << 20

func isSplicePipe(fd FD) bool {
	// The descriptor is ours: check it still is the same pipe, then its
	// buffer size and that it is non-blocking, as newPipe makes them.
	var st unix.Stat_t
	if unix.Fstat(fd.Num, &st) != nil || st.Ino != fd.Ino || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return false
	}
	size, err := unix.FcntlInt(uintptr(fd.Num), unix.F_GETPIPE_SZ, 0)
	if err != nil || size != splicePipeSize {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(fd.Num), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_NONBLOCK != 0
}
