package sockstate

import (
	"errors"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/internal/sockdiag"
)

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
	var nl *sockdiag.Conn
	if err == nil {
		nl, _, err = openNetlink(0, 0)
	}
	if err == nil {
		err = c.dumpUnix(nl)
		nl.Close()
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
