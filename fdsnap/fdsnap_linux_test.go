package fdsnap_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
)

// The test binary re-executes itself in these roles (FDSNAP_CHILD=role).
func TestMain(m *testing.M) {
	switch os.Getenv("FDSNAP_CHILD") {
	case "":
		os.Exit(m.Run())
	case "hold":
		childHold()
	case "emfile":
		childEMFILE()
	case "fresh":
		childFresh()
	case "nobody":
		childNobody()
	case "exit":
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown FDSNAP_CHILD role")
		os.Exit(3)
	}
	os.Exit(0)
}

// mustFD returns a function that checks an fd-returning call and closes
// the fd when the test ends: mustFD(t)(unix.Eventfd(0, 0)).
func mustFD(t *testing.T) func(int, error) int {
	return func(fd int, err error) int {
		t.Helper()
		require.NoError(t, err)
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
}

func take(t *testing.T) *fdsnap.Snapshot {
	t.Helper()
	s, err := fdsnap.Take(fdsnap.WithDetail())
	require.NoError(t, err)
	return s
}

func lookup(t *testing.T, s *fdsnap.Snapshot, fd int) fdsnap.FD {
	t.Helper()
	f, ok := s.Lookup(fd)
	require.True(t, ok, "fd %d not in snapshot:\n%s", fd, s)
	return f
}

// blockDevice returns a block device node this process can open, made with
// mknod from /sys/dev/block when /dev has none at hand.
func blockDevice(t *testing.T) string {
	entries, _ := os.ReadDir("/sys/dev/block")
	for _, e := range entries {
		maj, min, ok := strings.Cut(e.Name(), ":")
		if !ok {
			continue
		}
		ma, _ := strconv.Atoi(maj)
		mi, _ := strconv.Atoi(min)
		p := filepath.Join(t.TempDir(), "blk")
		if err := unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(uint32(ma), uint32(mi)))); err != nil {
			continue
		}
		if fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			unix.Close(fd)
			return p
		}
	}
	return ""
}

// otherAnon creates an anonymous-inode fd of a kind fdsnap has no name for.
func otherAnon() (int, string, error) {
	r, _, errno := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	fd, err := int(r), error(nil)
	if errno != 0 {
		err = errno
	}
	if err == nil {
		return fd, "anon_inode:[userfaultfd]", nil
	}
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_DUMMY, Size: uint32(unsafeSizeofPerfAttr)}
	fd, err2 := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err2 == nil {
		return fd, "anon_inode:[perf_event]", nil
	}
	return -1, "", fmt.Errorf("userfaultfd: %v; perf_event_open: %v", err, err2)
}

const unsafeSizeofPerfAttr = 136 // PERF_ATTR_SIZE_VER8

func TestEveryKind(t *testing.T) {
	dir := t.TempDir()
	file, err := os.Create(filepath.Join(dir, "00000000.log"))
	require.NoError(t, err)
	defer file.Close()
	deleted, err := os.Create(filepath.Join(dir, "00000000.index"))
	require.NoError(t, err)
	defer deleted.Close()
	require.NoError(t, os.Remove(deleted.Name()))
	d, err := os.Open(dir)
	require.NoError(t, err)
	defer d.Close()
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	defer pw.Close()
	fifoPath := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifoPath, 0o600))
	fifo := mustFD(t)(unix.Open(fifoPath, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0))
	sock := mustFD(t)(unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
	null, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer null.Close()
	efd := mustFD(t)(unix.Eventfd(5, unix.EFD_CLOEXEC))
	ep := mustFD(t)(unix.EpollCreate1(unix.EPOLL_CLOEXEC))
	require.NoError(t, unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN}))
	require.NoError(t, unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, sock, &unix.EpollEvent{Events: unix.EPOLLIN}))
	tfd := mustFD(t)(unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC))
	require.NoError(t, unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Interval: unix.Timespec{Sec: 2}, Value: unix.Timespec{Sec: 2}}, nil))
	var set unix.Sigset_t
	set.Val[0] = 1 << (uint(syscall.SIGUSR1) - 1)
	sfd := mustFD(t)(unix.Signalfd(-1, &set, unix.SFD_CLOEXEC))
	ifd := mustFD(t)(unix.InotifyInit1(unix.IN_CLOEXEC))
	_, err = unix.InotifyAddWatch(ifd, dir, unix.IN_CREATE)
	require.NoError(t, err)
	_, err = unix.InotifyAddWatch(ifd, os.TempDir(), unix.IN_DELETE)
	require.NoError(t, err)
	mfd := mustFD(t)(unix.MemfdCreate("segment-cache", unix.MFD_CLOEXEC))
	pidfd := mustFD(t)(unix.PidfdOpen(os.Getpid(), 0))
	nsf, err := os.Open("/proc/self/ns/net")
	require.NoError(t, err)
	defer nsf.Close()

	type want struct {
		fd     int
		kind   fdsnap.Kind
		detail string
		desc   string
	}
	wants := []want{
		{int(file.Fd()), fdsnap.File, "", "file " + file.Name()},
		{int(deleted.Fd()), fdsnap.DeletedFile, "", "file " + deleted.Name() + " (deleted)"},
		{int(d.Fd()), fdsnap.Dir, "", "dir " + dir},
		{int(pr.Fd()), fdsnap.Pipe, "", ""},
		{fifo, fdsnap.FIFO, "", "fifo " + fifoPath},
		{sock, fdsnap.Socket, "", ""},
		{int(null.Fd()), fdsnap.CharDevice, "", "chardev /dev/null"},
		{efd, fdsnap.EventFD, "count 5", "eventfd (count 5)"},
		{ep, fdsnap.EventPoll, "watching 2 fds", "eventpoll (watching 2 fds)"},
		{tfd, fdsnap.TimerFD, "CLOCK_MONOTONIC, every 2s", ""},
		{sfd, fdsnap.SignalFD, "signals SIGUSR1", ""},
		{ifd, fdsnap.Inotify, "2 watches", ""},
		{mfd, fdsnap.MemFD, "", "memfd segment-cache"},
		{pidfd, fdsnap.PidFD, fmt.Sprintf("pid %d", os.Getpid()), ""},
		{int(nsf.Fd()), fdsnap.Unknown, "", ""},
	}
	if fan, err := unix.FanotifyInit(unix.FAN_CLOEXEC, unix.O_RDONLY); err == nil {
		t.Cleanup(func() { unix.Close(fan) })
		require.NoError(t, unix.FanotifyMark(fan, unix.FAN_MARK_ADD, unix.FAN_OPEN, unix.AT_FDCWD, dir))
		wants = append(wants, want{fan, fdsnap.Fanotify, "1 mark", ""})
	} else {
		t.Logf("fanotify not testable here (needs CAP_SYS_ADMIN): %v", err)
	}
	if blk := blockDevice(t); blk != "" {
		bfd := mustFD(t)(unix.Open(blk, unix.O_RDONLY|unix.O_CLOEXEC, 0))
		wants = append(wants, want{bfd, fdsnap.BlockDevice, "", "blockdev " + blk})
	} else {
		t.Logf("no block device can be opened here; BlockDevice untested")
	}
	if afd, target, err := otherAnon(); err == nil {
		t.Cleanup(func() { unix.Close(afd) })
		wants = append(wants, want{afd, fdsnap.AnonInode, "", target})
	} else {
		t.Logf("no other anonymous inode can be created here: %v", err)
	}

	s := take(t)
	for _, w := range wants {
		got := lookup(t, s, w.fd)
		assert.Equal(t, w.kind, got.Kind, "%s", got)
		assert.Equal(t, w.detail, got.Detail, "%s", got)
		if w.desc != "" {
			assert.Equal(t, w.desc, got.Describe())
		}
	}
	// Identity: files by device/inode, pipes and sockets by the inode in the target.
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(file.Fd()), &st))
	f := lookup(t, s, int(file.Fd()))
	assert.Equal(t, st.Ino, f.Ino)
	assert.Equal(t, st.Dev, f.Dev)
	assert.Equal(t, file.Name(), f.Path())
	assert.Equal(t, deleted.Name(), lookup(t, s, int(deleted.Fd())).Path())
	require.NoError(t, unix.Fstat(sock, &st))
	assert.Equal(t, st.Ino, lookup(t, s, sock).Ino)
	assert.Equal(t, lookup(t, s, int(pr.Fd())).Ino, lookup(t, s, int(pw.Fd())).Ino, "both ends of one pipe")
	assert.Equal(t, fmt.Sprintf("fd %d file %s (deleted)", deleted.Fd(), deleted.Name()), lookup(t, s, int(deleted.Fd())).String())

	// Closed → gone.
	nums := make([]int, 0, len(wants))
	for _, w := range wants {
		nums = append(nums, w.fd)
	}
	file.Close()
	deleted.Close()
	unix.Close(efd)
	after := take(t)
	for _, n := range []int{nums[0], nums[1], efd} {
		_, ok := after.Lookup(n)
		assert.False(t, ok, "fd %d was closed", n)
	}
	diff := fdsnap.Compare(s, after)
	assert.Len(t, diff.Removed, 3)
	assert.Empty(t, diff.Added)
}

func TestSelfExcludesItsOwnDirectory(t *testing.T) {
	for range 3 {
		s, err := fdsnap.Take()
		require.NoError(t, err)
		for _, f := range s.FDs {
			assert.NotContains(t, f.Target, "/fd", "the snapshot shows the descriptor it read with: %s", f)
		}
	}
	n, err := fdsnap.Count()
	require.NoError(t, err)
	s, err := fdsnap.Take()
	require.NoError(t, err)
	assert.Equal(t, len(s.FDs), n, "Count and Take agree on what is open")
}

func TestCountFollowsOpens(t *testing.T) {
	before, err := fdsnap.Count()
	require.NoError(t, err)
	for range 100 {
		mustFD(t)(unix.Eventfd(0, unix.EFD_CLOEXEC))
	}
	after, err := fdsnap.Count()
	require.NoError(t, err)
	assert.Equal(t, before+100, after)
}

func TestDiffReplaced(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "replaced")
	require.NoError(t, err)
	defer f.Close()
	num := int(f.Fd())
	before := take(t)
	// Reuse the number for a different object: a pipe end dup'ed over it.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	require.NoError(t, unix.Dup3(int(r.Fd()), num, unix.O_CLOEXEC))
	after := take(t)
	d := fdsnap.Compare(before, after)
	require.Len(t, d.Replaced, 1, "%s", d)
	assert.Equal(t, num, d.Replaced[0].Old.Num)
	assert.Equal(t, fdsnap.File, d.Replaced[0].Old.Kind)
	assert.Equal(t, fdsnap.Pipe, d.Replaced[0].New.Kind)
	assert.Len(t, d.Opened(), 3, "the pipe's two ends plus the replacement")
	assert.Len(t, d.Closed(), 1)
}

func startChild(t *testing.T, role string, env ...string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(childEnv(), "FDSNAP_CHILD="+role), env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return cmd, bufio.NewReader(stdout), stdin
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(l)
}

// childHold opens known descriptors, prints their numbers, and waits for
// stdin to close.
func childHold() {
	dir := os.Getenv("FDSNAP_DIR")
	f, _ := os.Create(filepath.Join(dir, "00000000.log"))
	g, _ := os.Create(filepath.Join(dir, "00000001.log"))
	os.Remove(g.Name())
	efd, _ := unix.Eventfd(0, unix.EFD_CLOEXEC)
	ep, _ := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN})
	fmt.Printf("%d %d %d %d\n", f.Fd(), g.Fd(), efd, ep)
	io.Copy(io.Discard, os.Stdin)
}

func TestPID(t *testing.T) {
	dir := t.TempDir()
	cmd, out, _ := startChild(t, "hold", "FDSNAP_DIR="+dir)
	var file, deleted, efd, ep int
	_, err := fmt.Sscan(readLine(t, out), &file, &deleted, &efd, &ep)
	require.NoError(t, err)

	s, err := fdsnap.TakePID(cmd.Process.Pid, fdsnap.WithDetail())
	require.NoError(t, err)
	assert.Equal(t, cmd.Process.Pid, s.PID)
	assert.Equal(t, "file "+filepath.Join(dir, "00000000.log"), lookup(t, s, file).Describe())
	assert.Equal(t, fdsnap.DeletedFile, lookup(t, s, deleted).Kind)
	assert.Equal(t, "eventfd (count 0)", lookup(t, s, efd).Describe())
	assert.Equal(t, "eventpoll (watching 1 fd)", lookup(t, s, ep).Describe())
	for _, fd := range s.FDs {
		assert.NotEqual(t, fdsnap.Dir, fd.Kind, "the child holds no directory: %s", fd)
	}
	n, err := fdsnap.CountPID(cmd.Process.Pid)
	require.NoError(t, err)
	assert.Equal(t, len(s.FDs), n)
}

func TestPIDErrors(t *testing.T) {
	_, err := fdsnap.TakePID(0x7ffffff0)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "pid 2147483632")
	_, err = fdsnap.CountPID(0x7ffffff0)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = fdsnap.TakePID(-4)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid pid -4")

	// A process that has exited but not been reaped has no fd table left.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(childEnv(), "FDSNAP_CHILD=exit")
	require.NoError(t, cmd.Start())
	defer cmd.Wait()
	pid := cmd.Process.Pid
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err == nil && strings.Contains(string(b), ") Z ")
	}, 10*time.Second, 5*time.Millisecond, "child never became a zombie")
	_, err = fdsnap.TakePID(pid)
	require.ErrorIs(t, err, os.ErrNotExist, "a zombie's descriptors are gone")
	assert.Contains(t, err.Error(), "pid "+strconv.Itoa(pid))
}

// childNobody runs as an unprivileged user and tries to read its parent's
// (root's) descriptors.
func childNobody() {
	_, err := fdsnap.TakePID(os.Getppid())
	fmt.Println(errors.Is(err, os.ErrPermission), err)
}

func TestPIDPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		// Unprivileged: another user's process is at hand.
		_, err := fdsnap.TakePID(1)
		require.ErrorIs(t, err, os.ErrPermission)
		return
	}
	// The go test build directory is private to root: run a copy the
	// unprivileged user may execute.
	bin := copyExecutable(t)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(childEnv(), "FDSNAP_CHILD=nobody")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.HasPrefix(string(out), "true "), "child as uid 65534 got: %s", out)
	assert.Contains(t, string(out), "permission denied")
}

func copyExecutable(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fdsnap-nobody-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	b, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	bin := filepath.Join(dir, "fdsnap.test")
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	return bin
}

// childEMFILE fills its fd table (after lowering RLIMIT_NOFILE) and reports
// whether snapshots still work. With FDSNAP_WARM=1 it takes one snapshot
// before filling the table.
func childEMFILE() {
	if os.Getenv("FDSNAP_WARM") == "1" {
		if _, err := fdsnap.Take(); err != nil {
			fmt.Println("warm-up failed:", err)
			return
		}
	}
	n, _ := fdsnap.Count()
	lim := uint64(n + 20)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: lim, Max: lim}); err != nil {
		fmt.Println("setrlimit:", err)
		return
	}
	opened := 0
	for {
		if _, err := unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
			if err != unix.EMFILE {
				fmt.Println("unexpected:", err)
				return
			}
			break
		}
		opened++
	}
	s, err := fdsnap.Take()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("ok", len(s.FDs), opened, s.Counts()[fdsnap.EventFD])
}

func TestFullFDTable(t *testing.T) {
	t.Run("warm", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(childEnv(), "FDSNAP_CHILD=emfile", "FDSNAP_WARM=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		var n, opened, eventfds int
		_, err = fmt.Sscanf(string(out), "ok %d %d %d", &n, &opened, &eventfds)
		require.NoError(t, err, "a snapshot after a warm-up works with a full fd table; child said: %s", out)
		assert.Equal(t, opened, eventfds, "every eventfd opened is listed")
	})
	t.Run("cold", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(childEnv(), "FDSNAP_CHILD=emfile")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Regexp(t, `^error: fdsnap: current process: the fd table is full \(RLIMIT_NOFILE soft limit \d+ reached\)`, string(out))
	})
}

// childFresh reports the runtime descriptors of a process that has not used
// the network or a timer yet.
func childFresh() {
	before, _ := fdsnap.Take()
	polls := before.Counts()[fdsnap.EventPoll]
	rt, err := fdsnap.RuntimeFDs()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	after, _ := fdsnap.Take()
	var kinds []string
	for _, f := range rt {
		kinds = append(kinds, f.Kind.String())
		if g, ok := after.Lookup(f.Num); !ok || !fdsnap.SameObject(f, g) {
			fmt.Println("runtime fd missing from a later snapshot:", f)
		}
	}
	// Using the network must not create further runtime descriptors.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	l.Close()
	time.Sleep(time.Millisecond)
	final, _ := fdsnap.Take()
	d := fdsnap.Compare(after, final)
	fmt.Printf("before=%d kinds=%s diff=%d\n", polls, strings.Join(kinds, ","), len(d.Opened()))
}

func TestRuntimeFDsInFreshProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(childEnv(), "FDSNAP_CHILD=fresh")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got := strings.TrimSpace(string(out))
	assert.Regexp(t, `^before=0 kinds=(file,)*eventpoll,eventfd(,file)* diff=0$`, got,
		"the netpoller is created by RuntimeFDs and recognised; nothing new appears on first network use")
}

func TestRuntimeFDsStable(t *testing.T) {
	a, err := fdsnap.RuntimeFDs()
	require.NoError(t, err)
	b, err := fdsnap.RuntimeFDs()
	require.NoError(t, err)
	assert.Equal(t, a, b)
	kinds := map[fdsnap.Kind]int{}
	for _, f := range a {
		kinds[f.Kind]++
	}
	assert.Equal(t, 1, kinds[fdsnap.EventPoll])
	assert.Equal(t, 1, kinds[fdsnap.EventFD])
	// A user's own epoll instance is not the runtime's.
	ep := mustFD(t)(unix.EpollCreate1(unix.EPOLL_CLOEXEC))
	c, err := fdsnap.RuntimeFDs()
	require.NoError(t, err)
	for _, f := range c {
		assert.NotEqual(t, ep, f.Num)
	}
}

// childEnv is the environment for re-executed children. Under the race
// detector a process sleeps a second at exit unless told not to.
func childEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0")
}

func TestCountWithoutSizeSupport(t *testing.T) {
	restore := fdsnap.CountByListing()
	defer restore()
	for range 5 {
		mustFD(t)(unix.Eventfd(0, unix.EFD_CLOEXEC))
	}
	n, err := fdsnap.Count()
	require.NoError(t, err)
	s, err := fdsnap.Take()
	require.NoError(t, err)
	assert.Equal(t, len(s.FDs), n, "the listing fallback counts what Take lists")
	cmd, out, _ := startChild(t, "hold", "FDSNAP_DIR="+t.TempDir())
	readLine(t, out)
	n, err = fdsnap.CountPID(cmd.Process.Pid)
	require.NoError(t, err)
	s, err = fdsnap.TakePID(cmd.Process.Pid)
	require.NoError(t, err)
	assert.Equal(t, len(s.FDs), n)
}
