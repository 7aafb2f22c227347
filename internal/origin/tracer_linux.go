package origin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Map sizes. The hash maps allocate an element per key on first use
// (BPF_F_NO_PREALLOC), so they cost what they hold, about 850 bytes per
// descriptor number and per unreaped child, plus 16 bytes of buckets per
// possible entry at creation (which also sets how long creation takes).
// Descriptor numbers are handed out lowest first, so maxFDs bounds how many
// are open at once, not how many were created.
const (
	maxFDs      = 1 << 15
	maxChildren = 1 << 12
)

// procInitIno is the inode of the initial PID namespace (PROC_PID_INIT_INO).
const procInitIno = 0xEFFFFFFC

// tracer is the Linux half of Tracer: the maps, the program and its link.
type tracer struct {
	pid                             int
	globals, scratch, fds, children *ebpf.Map
	prog                            *ebpf.Program
	link                            link.Link
	names                           map[uint32]string // syscall number → name
	ownText                         bool              // the target runs this executable …
	textShift                       uintptr           // … and this plus its PC is the PC here
	wall                            time.Time         // time.Now() at mono
	mono                            int64             // CLOCK_MONOTONIC ns, bpf_ktime_get_ns' clock
}

func start(pid int) (*tracer, error) {
	if len(syscalls) == 0 {
		return nil, fmt.Errorf("%w on linux/%s: only linux/amd64 is supported", ErrUnavailable, runtime.GOARCH)
	}
	if err := unix.Kill(pid, 0); err == unix.ESRCH {
		return nil, fmt.Errorf("origin: Start(%d): no such process (%w)", pid, os.ErrNotExist)
	}
	c := progConfig{tgid: int32(pid), regs: regs}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err == nil && st.Ino != procInitIno {
		// bpf_get_ns_current_pid_tgid compares the kernel's dev_t
		// (major<<20 | minor), not stat's encoding.
		c.nsDev = uint64(unix.Major(st.Dev))<<20 | uint64(unix.Minor(st.Dev))
		c.nsInode = st.Ino
	}

	t := &tracer{pid: pid, names: make(map[uint32]string, len(syscalls))}
	if pid != os.Getpid() {
		t.textShift, t.ownText = sameExecutable(pid)
	}
	ok := false
	defer func() {
		if !ok {
			t.close()
		}
	}()
	var err error
	var classes [globalsSize]byte
	for _, s := range syscalls {
		classes[s.nr] = s.class
		t.names[uint32(s.nr)] = s.name
	}
	if t.globals, err = ebpf.NewMap(&ebpf.MapSpec{
		Name: "leakcheck_glob", Type: ebpf.Array,
		KeySize: 4, ValueSize: globalsSize, MaxEntries: 1,
	}); err != nil {
		return nil, unavailable(err)
	}
	if err := t.globals.Update(uint32(0), classes[:], ebpf.UpdateAny); err != nil {
		return nil, unavailable(err)
	}
	if t.scratch, err = ebpf.NewMap(&ebpf.MapSpec{
		Name: "leakcheck_scr", Type: ebpf.PerCPUArray,
		KeySize: 4, ValueSize: recordSize, MaxEntries: 1,
	}); err != nil {
		return nil, unavailable(err)
	}
	if t.fds, err = ebpf.NewMap(&ebpf.MapSpec{
		Name: "leakcheck_fds", Type: ebpf.Hash, Flags: unix.BPF_F_NO_PREALLOC,
		KeySize: 4, ValueSize: recordSize, MaxEntries: maxFDs,
	}); err != nil {
		return nil, unavailable(err)
	}
	if t.children, err = ebpf.NewMap(&ebpf.MapSpec{
		Name: "leakcheck_kids", Type: ebpf.Hash, Flags: unix.BPF_F_NO_PREALLOC,
		KeySize: 4, ValueSize: recordSize, MaxEntries: maxChildren,
	}); err != nil {
		return nil, unavailable(err)
	}
	c.globals, c.scratch, c.fds, c.children = t.globals.FD(), t.scratch.FD(), t.fds.FD(), t.children.FD()
	if t.prog, err = ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         "leakcheck_orig",
		Type:         ebpf.RawTracepoint,
		License:      "GPL", // bpf_probe_read_*, bpf_get_stack
		Instructions: instructions(c),
	}, ebpf.ProgramOptions{LogDisabled: true}); err != nil {
		return nil, unavailable(err)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return nil, unavailable(err)
	}
	t.wall, t.mono = time.Now(), ts.Nano()
	if t.link, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_exit", Program: t.prog}); err != nil {
		return nil, unavailable(err)
	}
	ok = true
	return t, nil
}

// lookup reads the record of key in m (t.fds or t.children).
func (t *tracer) lookup(m *ebpf.Map, key int) (Origin, bool) {
	if key > 1<<31-1 {
		return Origin{}, false
	}
	b, err := m.LookupBytes(uint32(key))
	if err != nil || len(b) != recordSize {
		return Origin{}, false
	}
	return t.decode(b), true
}

func (t *tracer) decode(b []byte) Origin {
	le := binary.NativeEndian
	nr := le.Uint32(b[recTID+4:])
	name, ok := t.names[nr]
	if !ok {
		name = "syscall " + strconv.Itoa(int(nr))
	}
	n := min(int(int32(le.Uint32(b[recBytes:])))/8, maxFrames)
	pcs := make([]uintptr, 0, max(n, 0))
	for i := range n {
		pcs = append(pcs, uintptr(le.Uint64(b[recPCs+8*i:])))
	}
	return Origin{
		Syscall: name,
		PID:     t.pid,
		TID:     int(le.Uint32(b[recTID:])),
		PCs:     pcs,
		Time:    t.wall.Add(time.Duration(int64(le.Uint64(b[recKtime:])) - t.mono)),

		ownText:   t.ownText,
		textShift: t.textShift,
	}
}

// sameExecutable reports whether process pid runs the executable file of
// this process, and what to add to its PCs to get the same instruction here
// (non-zero only for a PIE, which ASLR places anywhere): the base of each is
// the start of the first mapping of the file at offset 0 in /proc/PID/maps.
func sameExecutable(pid int) (shift uintptr, ok bool) {
	var self, other unix.Stat_t
	target := "/proc/" + strconv.Itoa(pid)
	if unix.Stat("/proc/self/exe", &self) != nil || unix.Stat(target+"/exe", &other) != nil ||
		self.Dev != other.Dev || self.Ino != other.Ino {
		return 0, false
	}
	selfBase, ok1 := textBase("/proc/self", self)
	otherBase, ok2 := textBase(target, other)
	if !ok1 || !ok2 {
		return 0, false
	}
	return uintptr(selfBase - otherBase), true
}

// textBase returns the start of the first mapping of the file exe at offset
// 0 in dir/maps ("start-end perms offset dev inode path").
func textBase(dir string, exe unix.Stat_t) (uint64, bool) {
	b, err := os.ReadFile(dir + "/maps")
	if err != nil {
		return 0, false
	}
	ino := strconv.FormatUint(exe.Ino, 10)
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 6 || f[2] != "00000000" || f[4] != ino {
			continue
		}
		start, _, _ := strings.Cut(f[0], "-")
		v, err := strconv.ParseUint(start, 16, 64)
		return v, err == nil
	}
	return 0, false
}

// lost returns how many records the maps refused because they were full.
func (t *tracer) lost() uint64 {
	b, err := t.globals.LookupBytes(uint32(0))
	if err != nil || len(b) != globalsSize {
		return 0
	}
	return binary.NativeEndian.Uint64(b[globalsLost:])
}

// fdNumbers returns the descriptors this tracer holds in its own process.
func (t *tracer) fdNumbers() []int {
	var out []int
	for _, m := range []*ebpf.Map{t.globals, t.scratch, t.fds, t.children} {
		if m != nil {
			out = append(out, m.FD())
		}
	}
	if t.prog != nil {
		out = append(out, t.prog.FD())
	}
	if l, ok := t.link.(interface{ FD() int }); ok {
		out = append(out, l.FD())
	}
	return out
}

// close detaches the program first, so nothing writes to a map being freed.
func (t *tracer) close() error {
	var errs []error
	if t.link != nil {
		errs = append(errs, t.link.Close())
	}
	if t.prog != nil {
		errs = append(errs, t.prog.Close())
	}
	for _, m := range []*ebpf.Map{t.globals, t.scratch, t.fds, t.children} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}

// unavailable wraps an error of bpf() in ErrUnavailable with a hint of how
// to enable tracing. cilium/ebpf suggests raising RLIMIT_MEMLOCK on EPERM;
// since Linux 5.11 memory is charged to the cgroup instead, and EPERM means
// missing privileges.
func unavailable(err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	switch errno {
	case unix.EPERM, unix.EACCES:
		return fmt.Errorf("%w: bpf: %v: %s", ErrUnavailable, errno, privilegeHint())
	case unix.ENOSYS:
		return fmt.Errorf("%w: bpf: %v: this kernel has no bpf() (CONFIG_BPF_SYSCALL)", ErrUnavailable, errno)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// privilegeHint tells how to get the privileges a tracing program needs.
func privilegeHint() string {
	hint := "needs root or CAP_BPF+CAP_PERFMON (go test -exec sudo, or setcap cap_bpf,cap_perfmon+ep on the binary; in a container --cap-add BPF --cap-add PERFMON)"
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled"); err == nil {
		hint += "; kernel.unprivileged_bpf_disabled=" + strings.TrimSpace(string(b)) + ", but no value of it allows tracing"
	}
	return hint
}
