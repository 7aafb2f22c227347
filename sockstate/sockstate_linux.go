package sockstate

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/procnet"
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

// refused reports whether err means netlink sock_diag is not available to
// us (as opposed to a fault while reading it).
func refused(err error) bool {
	for _, e := range []unix.Errno{unix.EPERM, unix.EACCES, unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT, unix.ENOENT, unix.EOPNOTSUPP, unix.ESOCKTNOSUPPORT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// viaNetlink reads the tables with sock_diag dumps in namespace ns, falling
// back to /proc/PID/net for whatever netlink refuses.
func (c *collector) viaNetlink(ns uint64) error {
	for i, recs := range c.pre {
		for _, chunk := range recs.chunks {
			for j := range chunk {
				c.inetRecord(tables[i], &chunk[j])
			}
		}
		c.source("netlink")
	}
	if len(c.pre) > 0 && len(c.want) == 0 && !c.cfg.orphans {
		return nil // every socket was found: no other table needed
	}
	var nl *nlConn
	err := c.cfg.netlinkErr
	if err == nil {
		nl, err = openNetlink(c.pid, ns)
	}
	if err != nil {
		if !refused(err) {
			return fmt.Errorf("sockstate: %w", err)
		}
		c.notes = append(c.notes, "netlink refused: "+errText(err))
		return c.viaProc(tables[:])
	}
	defer nl.close()
	if nl.setns && len(c.pre) == 0 {
		c.notes = append(c.notes, "netlink opened in the target's namespace")
	}
	for i, t := range tables {
		if _, ok := c.pre[i]; ok || c.done(t) {
			continue
		}
		var err error
		if t.family == sockdiag.AFUnix {
			err = c.dumpUnix(nl)
		} else {
			err = c.dumpInet(nl, t)
		}
		if err != nil {
			if !refused(err) {
				return fmt.Errorf("sockstate: %s dump: %w", t.name, err)
			}
			c.notes = append(c.notes, t.name+" dump refused: "+errText(err))
			// This table and the rest from /proc; earlier ones are done.
			return c.viaProc(tables[i:])
		}
		c.source("netlink")
	}
	return nil
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

// States that only kernel-owned sockets are in: left out of a dump unless
// orphans are wanted.
const orphanOnlyStates = 1<<SynRecv | 1<<TimeWait | 1<<NewSynRecv

func (c *collector) dumpInet(nl *nlConn, t table) error {
	seq := nl.next()
	req := sockdiag.InetRequest(seq, t.family, t.protocol, c.states(t))
	return nl.dump(req, func(b []byte) (bool, error) {
		return sockdiag.ParseInet(b, seq, func(s *sockdiag.InetSock) { c.inetRecord(t, s) })
	})
}

// inetRecord keeps a dumped socket if it is one of ours or a wanted orphan.
func (c *collector) inetRecord(t table, s *sockdiag.InetSock) {
	if s.Inode == 0 {
		if c.cfg.orphans && t.protocol == sockdiag.ProtoTCP && c.cfg.wantOrphan(s.SrcPort, s.DstPort) && !c.countOnly {
			o := inetSocket(s, t.proto)
			o.FD = -1
			c.orphans = append(c.orphans, o)
		}
		return
	}
	fd, ok := c.want[uint64(s.Inode)]
	if !ok {
		return
	}
	k := inetSocket(s, t.proto)
	k.FD = fd
	c.emit(k)
}

// predump dumps the IPv4 TCP table of namespace ns before the descriptors
// are known, keeping every record; nil when netlink is not available (the
// regular path then reports why). Only that table: each dump walks the
// kernel's whole TCP hash (IPv4 and IPv6 sockets share it), so the others
// are dumped only if a socket is still missing once the descriptors are
// known.
func (c *collector) predump(ns uint64) map[int]*records {
	nl, err := openNetlink(c.pid, ns)
	if err != nil {
		return nil
	}
	defer nl.close()
	pre := make(map[int]*records)
	for i, t := range tables[:1] {
		recs := new(records)
		seq := nl.next()
		err := nl.dump(sockdiag.InetRequest(seq, t.family, t.protocol, c.states(t)), func(b []byte) (bool, error) {
			return sockdiag.ParseInet(b, seq, func(s *sockdiag.InetSock) {
				if s.Inode != 0 || c.cfg.orphans {
					recs.add(s)
				}
			})
		})
		if err != nil {
			return pre
		}
		pre[i] = recs
		if nl.setns {
			c.notes = append(c.notes, "netlink opened in the target's namespace")
			nl.setns = false
		}
	}
	return pre
}

// records holds dumped sockets in fixed-size chunks: a dump of tens of
// thousands of sockets is then never copied to grow it.
type records struct{ chunks [][]sockdiag.InetSock }

const recordChunk = 1024

func (r *records) add(s *sockdiag.InetSock) {
	n := len(r.chunks)
	if n == 0 || len(r.chunks[n-1]) == recordChunk {
		r.chunks = append(r.chunks, make([]sockdiag.InetSock, 0, recordChunk))
		n++
	}
	r.chunks[n-1] = append(r.chunks[n-1], *s)
}

func (c *collector) states(t table) uint32 {
	states := sockdiag.AllStates
	if !c.cfg.orphans || t.protocol != sockdiag.ProtoTCP {
		states &^= orphanOnlyStates
	}
	return states
}

func inetSocket(s *sockdiag.InetSock, p Proto) Socket {
	return Socket{
		Inode:  uint64(s.Inode),
		Proto:  p,
		State:  State(s.State),
		Local:  addrPort(s.Family == sockdiag.AFInet6, &s.Src, s.SrcPort),
		Remote: addrPort(s.Family == sockdiag.AFInet6, &s.Dst, s.DstPort),
		RecvQ:  s.RQueue,
		SendQ:  s.WQueue,
		UID:    s.UID,
	}
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

func (c *collector) dumpUnix(nl *nlConn) error {
	show := uint32(sockdiag.UnixShowPeer | sockdiag.UnixShowRQLen | sockdiag.UnixShowUID)
	if !c.countOnly {
		show |= sockdiag.UnixShowName
	}
	seq := nl.next()
	req := sockdiag.UnixRequest(seq, sockdiag.AllStates, show)
	return nl.dump(req, func(b []byte) (bool, error) {
		return sockdiag.ParseUnix(b, seq, func(s *sockdiag.UnixSock) {
			fd, ok := c.want[uint64(s.Inode)]
			if !ok {
				return
			}
			k := Socket{
				Inode:    uint64(s.Inode),
				FD:       fd,
				Proto:    unixProto(int(s.Type)),
				State:    State(s.State),
				UnixPeer: uint64(s.Peer),
				RecvQ:    s.RQueue,
				SendQ:    s.WQueue,
				UID:      s.UID,
			}
			if !c.countOnly {
				k.UnixPath = unixName(s.Name)
			}
			c.emit(k)
		})
	})
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

// unixName renders a UNIX_DIAG_NAME value: a path up to its NUL, or "@" and
// an abstract name with NUL bytes shown as '@', as /proc/net/unix does.
func unixName(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if b[0] != 0 {
		if i := slices.Index(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	s := []byte(string(b))
	for i, ch := range s {
		if ch == 0 {
			s[i] = '@'
		}
	}
	return string(s)
}

// viaProc reads the given tables from /proc/PID/net.
func (c *collector) viaProc(ts []table) error {
	dir := "/proc/self/net/"
	if c.pid != 0 {
		dir = "/proc/" + strconv.Itoa(c.pid) + "/net/"
	}
	for _, t := range ts {
		if c.done(t) {
			continue
		}
		b, err := os.ReadFile(dir + t.name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && t.family == sockdiag.AFInet6 {
				continue // no IPv6 in this kernel: no such sockets either
			}
			return procErr(c.pid, "reading "+dir+t.name, err)
		}
		c.source("proc")
		if t.family == sockdiag.AFUnix {
			err = procnet.ParseUnix(b, c.procUnix)
		} else {
			err = procnet.ParseInet(b, binary.NativeEndian, func(e *procnet.InetEntry) { c.procInet(t, e) })
		}
		if err != nil {
			return fmt.Errorf("sockstate: %s%s: %w", dir, t.name, err)
		}
	}
	return nil
}

func (c *collector) procInet(t table, e *procnet.InetEntry) {
	s := Socket{
		Inode:  e.Inode,
		Proto:  t.proto,
		State:  State(e.State),
		Local:  addrPort(e.IPv6, &e.Local, e.LocalPort),
		Remote: addrPort(e.IPv6, &e.Remote, e.RemotePort),
		RecvQ:  e.RxQueue,
		SendQ:  e.TxQueue,
		UID:    e.UID,
	}
	if e.Inode == 0 {
		if c.cfg.orphans && t.protocol == sockdiag.ProtoTCP && c.cfg.wantOrphan(e.LocalPort, e.RemotePort) && !c.countOnly {
			s.FD = -1
			c.orphans = append(c.orphans, s)
		}
		return
	}
	fd, ok := c.want[e.Inode]
	if !ok {
		return
	}
	s.FD = fd
	c.emit(s)
}

func (c *collector) procUnix(e *procnet.UnixEntry) {
	fd, ok := c.want[e.Inode]
	if !ok {
		return
	}
	s := Socket{Inode: e.Inode, FD: fd, Proto: unixProto(int(e.Type))}
	switch {
	case e.Flags&procnet.AcceptCon != 0:
		s.State = Listen
	case e.State == 3: // SS_CONNECTED
		s.State = Established
	case e.State == 2: // SS_CONNECTING
		s.State = SynSent
	default:
		s.State = Closed
	}
	if !c.countOnly {
		s.UnixPath = string(e.Path)
	}
	c.emit(s)
}

// viaGetsockopt describes each socket descriptor of the current process
// with getsockopt, except unix sockets: getsockopt cannot tell a unix
// socket's peer, so they come from a unix_diag dump when netlink allows.
func (c *collector) viaGetsockopt() {
	c.source("getsockopt")
	self := func(fd int) (int, func(), error) { return fd, nil, nil }
	c.describeFDs(self, true)
	if len(c.want) == 0 {
		return
	}
	err := c.cfg.netlinkErr
	var nl *nlConn
	if err == nil {
		nl, err = openNetlink(0, 0)
	}
	if err == nil {
		err = c.dumpUnix(nl)
		nl.close()
		if err == nil {
			c.source("netlink")
		}
	}
	if err != nil {
		c.notes = append(c.notes, "unix peers unknown: netlink: "+errText(err))
	}
	c.describeFDs(self, false)
}

// leftovers describes the sockets the tables did not list: never bound,
// failed connects, netlink, raw and packet sockets. For the current process
// each descriptor is asked directly; for another, through a copy made with
// pidfd_getfd. What cannot be described is kept as an Other socket.
func (c *collector) leftovers() {
	if c.pid == 0 {
		c.source("getsockopt")
		c.describeFDs(func(fd int) (int, func(), error) { return fd, nil, nil }, false)
		return
	}
	pidfd, err := unix.PidfdOpen(c.pid, 0)
	if err == nil {
		defer unix.Close(pidfd)
		c.describeFDs(func(fd int) (int, func(), error) {
			local, err := unix.PidfdGetfd(pidfd, fd, 0)
			if err != nil {
				return -1, nil, err
			}
			return local, func() { unix.Close(local) }, nil
		}, false)
		if len(c.want) == 0 {
			c.source("pidfd_getfd")
		}
	}
	if len(c.want) > 0 {
		reason := "pidfd_getfd refused"
		if err != nil {
			reason = "pidfd_open: " + errText(err)
		}
		c.notes = append(c.notes, plural(len(c.want), "socket")+" not described: "+reason)
		for _, ino := range sortedKeys(c.want) {
			c.emit(Socket{Inode: ino, FD: c.want[ino], Proto: Other})
		}
	}
}

func sortedKeys(m map[uint64]int) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describeFDs describes every wanted socket by the descriptor open gives for
// its fd number in the target; with skipUnix, unix sockets are left wanted.
// A socket whose descriptor was closed (or reused) meanwhile is dropped: it
// is gone.
func (c *collector) describeFDs(open func(fd int) (int, func(), error), skipUnix bool) {
	gone := make([]uint64, 0)
	for _, ino := range sortedKeys(c.want) {
		num := c.want[ino]
		fd, closeFn, err := open(num)
		if err != nil {
			if errors.Is(err, unix.EBADF) {
				gone = append(gone, ino)
			}
			continue
		}
		s, ok := describeFD(fd, ino, skipUnix)
		if closeFn != nil {
			closeFn()
		}
		if !ok {
			gone = append(gone, ino)
			continue
		}
		if s.Proto.IsUnix() && skipUnix {
			continue
		}
		s.FD = num
		c.emit(s)
	}
	for _, ino := range gone {
		delete(c.want, ino)
	}
}

// describeFD asks the kernel about socket descriptor fd, which must still
// be the socket with inode ino. With onlyUnix, a unix socket is described
// by its Proto alone.
func describeFD(fd int, ino uint64, onlyUnix bool) (Socket, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Ino != ino {
		return Socket{}, false
	}
	s := Socket{Inode: ino, UID: st.Uid}
	domain, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if domain == unix.AF_UNIX && onlyUnix {
		s.Proto = unixProto(typ)
		return s, true
	}
	protocol, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if protocol == ipprotoMPTCP {
		// Go ≥ 1.24 listens with MPTCP by default; the kernel dumps such
		// sockets as TCP, and so does sockstate.
		protocol = unix.IPPROTO_TCP
	}
	var local, peer unix.Sockaddr
	var peerErr error
	if domain == unix.AF_INET || domain == unix.AF_INET6 || domain == unix.AF_UNIX {
		local, _ = unix.Getsockname(fd)
		peer, peerErr = unix.Getpeername(fd)
	}
	switch domain {
	case unix.AF_INET, unix.AF_INET6:
		v6 := domain == unix.AF_INET6
		s.Local, s.Remote = sockaddrPort(local), sockaddrPort(peer)
		switch {
		case typ == unix.SOCK_STREAM && protocol == unix.IPPROTO_TCP:
			s.Proto = pick(v6, TCP6, TCP)
			if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				s.State = State(info.State)
				if s.State == Listen {
					s.RecvQ, s.SendQ = info.Unacked, info.Sacked
				}
			}
		case typ == unix.SOCK_DGRAM && protocol == unix.IPPROTO_UDP:
			s.Proto = pick(v6, UDP6, UDP)
			s.State = pick(peerErr == nil, Established, Closed)
		case typ == unix.SOCK_RAW, typ == unix.SOCK_DGRAM && (protocol == unix.IPPROTO_ICMP || protocol == unix.IPPROTO_ICMPV6):
			s.Proto = Raw
			s.State = pick(peerErr == nil, Established, Closed)
		default:
			s.Proto = Other
		}
		if s.State != Listen && (s.Proto.IsInet()) {
			if n, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil {
				s.RecvQ = uint32(n)
			}
			if n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err == nil {
				s.SendQ = uint32(n)
			}
		}
	case unix.AF_UNIX:
		s.Proto = unixProto(typ)
		if sa, ok := local.(*unix.SockaddrUnix); ok && sa.Name != "@" {
			// x/sys shows an abstract name as "@name", and an unbound
			// socket as "@".
			s.UnixPath = sa.Name
		}
		if listening, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); listening == 1 {
			s.State = Listen
		} else {
			s.State = pick(peerErr == nil, Established, Closed)
		}
	case unix.AF_NETLINK:
		s.Proto = Netlink
	case unix.AF_PACKET:
		s.Proto = Packet
	default:
		s.Proto = Other
	}
	return s, true
}

const ipprotoMPTCP = 262 // IPPROTO_MPTCP, include/uapi/linux/in.h

func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

func sockaddrPort(sa unix.Sockaddr) netip.AddrPort {
	var ap netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	default:
		return netip.AddrPort{}
	}
	if ap.Port() == 0 && ap.Addr().IsUnspecified() {
		return netip.AddrPort{}
	}
	return ap
}

// nlConn is a NETLINK_SOCK_DIAG socket and its receive buffer.
type nlConn struct {
	fd    int
	seq   uint32
	buf   []byte
	setns bool // opened inside another network namespace
}

// recvBufs recycles receive buffers: the kernel fills at most 32 KiB per
// read of a dump (netlink_recvmsg caps max_recvmsg_len there).
var recvBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func openNetlink(pid int, ns uint64) (*nlConn, error) {
	mine, err := ourNS()
	if err != nil {
		return nil, err
	}
	var fd int
	setns := false
	if pid == 0 || ns == mine || ns == 0 {
		fd, err = diagSocket()
	} else {
		fd, err = diagSocketIn(pid)
		setns = true
	}
	if err != nil {
		return nil, err
	}
	return &nlConn{fd: fd, buf: *recvBufs.Get().(*[]byte), setns: setns, seq: uint32(os.Getpid())}, nil
}

func diagSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	return fd, nil
}

// diagSocketIn opens a sock_diag socket inside the network namespace of
// pid: a socket dumps the namespace it was created in. It switches a
// locked OS thread there and back, which needs CAP_SYS_ADMIN over both
// namespaces; a thread that cannot switch back is left locked so that it
// exits with its goroutine rather than run other code in the wrong
// namespace.
func diagSocketIn(pid int) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		target, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, procErr(pid, "opening its network namespace", err)}
			return
		}
		defer unix.Close(target)
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("opening our network namespace: %w", err)}
			return
		}
		defer unix.Close(home)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("setns into the network namespace of pid %d: %w", pid, err)}
			return
		}
		fd, err := diagSocket()
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			ch <- result{fd, nil} // the thread stays locked and exits
			return
		}
		runtime.UnlockOSThread()
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

func (nl *nlConn) next() uint32 {
	nl.seq++
	return nl.seq
}

func (nl *nlConn) close() {
	unix.Close(nl.fd)
	recvBufs.Put(&nl.buf)
}

// dump sends a request and feeds every reply buffer to parse until it sees
// the end of the dump.
func (nl *nlConn) dump(req []byte, parse func([]byte) (bool, error)) error {
	for {
		err := unix.Sendto(nl.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink send: %w", err)
		}
		break
	}
	for {
		n, err := unix.Read(nl.fd, nl.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("netlink receive: empty read before the end of the dump")
		}
		done, err := parse(nl.buf[:n])
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
