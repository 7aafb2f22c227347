package sockstate

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/sockdiag"
)

// smallCount is the number of sockets up to which describing each
// descriptor of the current process with getsockopt is cheaper than
// netlink dumps, whose cost grows with every socket of the namespace (see
// BenchmarkTake).
const smallCount = 24

// A table is one kind of socket the kernel dumps (and lists under
// /proc/PID/net).
type table struct {
	name     string // file name under /proc/PID/net
	family   uint8
	protocol uint8
	proto    Proto
}

// The tables in the order they are read: a Go program's sockets are mostly
// TCP, so a snapshot whose every socket is found early skips the rest.
var tables = [...]table{
	{"tcp", sockdiag.AFInet, sockdiag.ProtoTCP, TCP},
	{"tcp6", sockdiag.AFInet6, sockdiag.ProtoTCP, TCP6},
	{"unix", sockdiag.AFUnix, 0, 0},
	{"udp", sockdiag.AFInet, sockdiag.ProtoUDP, UDP},
	{"udp6", sockdiag.AFInet6, sockdiag.ProtoUDP, UDP6},
}

// collector gathers one snapshot or count.
type collector struct {
	cfg       config
	pid       int // 0: the current process
	countOnly bool

	want    map[uint64]int   // socket inodes not yet described → lowest fd
	pre     map[int]*records // tables dumped ahead, by index in tables
	sockets []Socket
	counts  map[Class]int
	orphans []Socket
	sources []string
	notes   []string
}

func take(pid int, cfg config) (*Snapshot, error) {
	c, snap, err := collect(pid, cfg, false)
	if err != nil {
		return nil, err
	}
	c.sockets = byInode(c.sockets)
	slices.SortFunc(c.orphans, func(a, b Socket) int {
		if r := a.Local.Compare(b.Local); r != 0 {
			return r
		}
		return a.Remote.Compare(b.Remote)
	})
	snap.Sockets, snap.Orphans = c.sockets, c.orphans
	return snap, nil
}

// byInode returns socks sorted by inode. A Socket is large, so the sort
// moves small keys and the sockets are copied once into place.
func byInode(socks []Socket) []Socket {
	less := func(a, b Socket) int { return cmp.Compare(a.Inode, b.Inode) }
	if slices.IsSortedFunc(socks, less) {
		return socks
	}
	type key struct {
		ino uint64
		i   int
	}
	keys := make([]key, len(socks))
	for i := range socks {
		keys[i] = key{socks[i].Inode, i}
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Compare(a.ino, b.ino) })
	out := make([]Socket, len(socks))
	for j, k := range keys {
		out[j] = socks[k.i]
	}
	return out
}

func count(pid int, cfg config) (map[Class]int, error) {
	c, _, err := collect(pid, cfg, true)
	if err != nil {
		return nil, err
	}
	return c.counts, nil
}

// collect joins pid's socket descriptors with what the kernel says about
// them, in one of three ways, each in its own file:
//
//   - netlink sock_diag dumps of the target's namespace, the default
//     (sockstate_netlink_linux.go);
//   - the tables under /proc/PID/net, for what netlink refuses (or when a
//     test forces methodProc) (sockstate_procnet_linux.go);
//   - getsockopt on each descriptor, for a few sockets of the current
//     process (sockstate_getsockopt_linux.go).
//
// Whatever the tables did not list is then described descriptor by
// descriptor (leftovers, in sockstate_getsockopt_linux.go).
func collect(pid int, cfg config, countOnly bool) (*collector, *Snapshot, error) {
	if pid == os.Getpid() {
		pid = 0
	}
	c := &collector{cfg: cfg, pid: pid, countOnly: countOnly}
	if countOnly {
		c.counts = make(map[Class]int)
	}
	ns, err := netNS(pid)
	if err != nil {
		return nil, nil, err
	}
	m := cfg.method
	if m == methodAuto {
		m = methodNetlink
	}
	fds := cfg.fds
	if fds == nil && pid != 0 && m == methodNetlink && cfg.netlinkErr == nil {
		// Another process: list its descriptors while the kernel dumps
		// TCP, the two costs that grow with the socket count.
		type result struct {
			fds *fdsnap.Snapshot
			err error
		}
		ch := make(chan result, 1)
		go func() {
			f, err := fdsnap.TakePID(pid)
			ch <- result{f, err}
		}()
		c.pre = c.predump(ns)
		r := <-ch
		if r.err != nil {
			return nil, nil, fmt.Errorf("sockstate: %w", r.err)
		}
		fds = r.fds
	}
	if fds == nil {
		var err error
		if pid == 0 {
			fds, err = fdsnap.Take()
		} else {
			fds, err = fdsnap.TakePID(pid)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("sockstate: %w", err)
		}
	} else if target := pidOrSelf(pid); fds.PID != target {
		return nil, nil, fmt.Errorf("sockstate: WithFDs was given a snapshot of pid %d for a snapshot of pid %d: pass the fd snapshot of the same process", fds.PID, target)
	}
	nsock := 0
	for _, f := range fds.FDs {
		if f.Kind == fdsnap.Socket {
			nsock++
		}
	}
	c.want = make(map[uint64]int, nsock)
	for _, f := range fds.FDs {
		if f.Kind != fdsnap.Socket {
			continue
		}
		if _, dup := c.want[f.Ino]; !dup { // FDs are sorted: the first is the lowest
			c.want[f.Ino] = f.Num
		}
	}
	if !countOnly {
		c.sockets = make([]Socket, 0, len(c.want))
	}
	snap := &Snapshot{PID: fds.PID, FDs: fds, NetNS: ns}

	if cfg.method == methodAuto && pid == 0 && len(c.want) <= smallCount && !cfg.orphans {
		m = methodGetsockopt
	}
	switch m {
	case methodGetsockopt:
		if pid != 0 {
			return nil, nil, fmt.Errorf("sockstate: getsockopt reads only the current process")
		}
		c.viaGetsockopt()
	case methodProc:
		if err := c.viaProc(tables[:]); err != nil {
			return nil, nil, err
		}
	default:
		if err := c.viaNetlink(ns); err != nil {
			return nil, nil, err
		}
	}
	if len(c.want) > 0 {
		c.leftovers()
	}
	snap.Source = strings.Join(c.sources, "+")
	if len(c.notes) > 0 {
		snap.Source += " (" + strings.Join(c.notes, "; ") + ")"
	}
	return c, snap, nil
}

func pidOrSelf(pid int) int {
	if pid == 0 {
		return os.Getpid()
	}
	return pid
}

func (c *collector) source(s string) {
	if !slices.Contains(c.sources, s) {
		c.sources = append(c.sources, s)
	}
}

// emit records a described socket and forgets its inode.
func (c *collector) emit(s Socket) {
	delete(c.want, s.Inode)
	if c.countOnly {
		c.counts[Class{s.Proto, s.State}]++
		return
	}
	c.sockets = append(c.sockets, s)
}

// ourNS is the network namespace of the current process; it does not change
// under normal use, and reading it costs a stat per snapshot otherwise.
var ourNS = sync.OnceValues(func() (uint64, error) { return nsInode(0) })

func nsInode(pid int) (uint64, error) {
	var st unix.Stat_t
	p := "/proc/self/ns/net"
	if pid != 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/ns/net"
	}
	if err := unix.Stat(p, &st); err != nil {
		return 0, procErr(pid, "reading its network namespace", err)
	}
	return st.Ino, nil
}

func netNS(pid int) (uint64, error) {
	if pid == 0 {
		return ourNS()
	}
	return nsInode(pid)
}

// procErr names the process and wraps os.ErrNotExist or os.ErrPermission.
func procErr(pid int, what string, err error) error {
	who := "pid " + strconv.Itoa(pid)
	if pid == 0 {
		who = "current process"
	}
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
		return fmt.Errorf("sockstate: %s: no such process (%s): %w", who, what, os.ErrNotExist)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("sockstate: %s: permission denied %s: %w", who, what, os.ErrPermission)
	}
	return fmt.Errorf("sockstate: %s: %s: %w", who, what, err)
}

// done reports whether table t can be skipped: every socket is described
// and t holds no orphans we were asked for.
func (c *collector) done(t table) bool {
	if c.cfg.orphans && t.protocol == sockdiag.ProtoTCP {
		return false
	}
	return len(c.want) == 0
}

func errText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// addrPort converts a kernel address; the unspecified address with port 0
// (unbound, unconnected) becomes the zero AddrPort.
func addrPort(v6 bool, a *[16]byte, port uint16) netip.AddrPort {
	var ip netip.Addr
	if v6 {
		ip = netip.AddrFrom16(*a).Unmap()
	} else {
		ip = netip.AddrFrom4([4]byte(a[:4]))
	}
	if port == 0 && ip.IsUnspecified() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, port)
}

func unixProto(typ int) Proto {
	switch typ {
	case unix.SOCK_STREAM:
		return UnixStream
	case unix.SOCK_DGRAM:
		return UnixDgram
	case unix.SOCK_SEQPACKET:
		return UnixSeqpacket
	}
	return Other
}
