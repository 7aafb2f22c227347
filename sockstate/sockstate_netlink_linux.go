package sockstate

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/internal/sockdiag"
)

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
