package sockstate

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

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
	var nl *sockdiag.Conn
	var inTarget bool
	err := c.cfg.netlinkErr
	if err == nil {
		nl, inTarget, err = openNetlink(c.pid, ns)
	}
	if err != nil {
		if !refused(err) {
			return fmt.Errorf("sockstate: %w", err)
		}
		c.notes = append(c.notes, "netlink refused: "+errText(err))
		return c.viaProc(tables[:])
	}
	defer nl.Close()
	if inTarget && len(c.pre) == 0 {
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

func (c *collector) dumpInet(nl *sockdiag.Conn, t table) error {
	return nl.DumpInet(t.family, t.protocol, c.states(t), func(s *sockdiag.InetSock) { c.inetRecord(t, s) })
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
	nl, inTarget, err := openNetlink(c.pid, ns)
	if err != nil {
		return nil
	}
	defer nl.Close()
	pre := make(map[int]*records)
	for i, t := range tables[:1] {
		recs := new(records)
		err := nl.DumpInet(t.family, t.protocol, c.states(t), func(s *sockdiag.InetSock) {
			if s.Inode != 0 || c.cfg.orphans {
				recs.add(s)
			}
		})
		if err != nil {
			return pre
		}
		pre[i] = recs
		if inTarget {
			c.notes = append(c.notes, "netlink opened in the target's namespace")
			inTarget = false
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

func (c *collector) dumpUnix(nl *sockdiag.Conn) error {
	show := uint32(sockdiag.UnixShowPeer | sockdiag.UnixShowRQLen | sockdiag.UnixShowUID)
	if !c.countOnly {
		show |= sockdiag.UnixShowName
	}
	return nl.DumpUnix(sockdiag.AllStates, show, func(s *sockdiag.UnixSock) {
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

// openNetlink opens a sock_diag socket that dumps the network namespace ns
// of pid (0: the current process); inTarget reports that it had to be
// opened inside the target's namespace.
func openNetlink(pid int, ns uint64) (nl *sockdiag.Conn, inTarget bool, err error) {
	mine, err := ourNS()
	if err != nil {
		return nil, false, err
	}
	if pid == 0 || ns == mine || ns == 0 {
		nl, err = sockdiag.Dial()
		return nl, false, err
	}
	target, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, procErr(pid, "opening its network namespace", err)
	}
	defer unix.Close(target)
	nl, err = sockdiag.DialIn(target)
	return nl, err == nil, err
}
