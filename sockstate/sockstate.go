package sockstate

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/leakcheck/go/fdsnap"
)

// Proto is a socket's protocol, with its address family where it matters.
type Proto uint8

// The protocols sockstate tells apart.
const (
	Other         Proto = iota // a socket of another family or protocol
	TCP                        // TCP over IPv4
	TCP6                       // TCP over IPv6 (also dual-stack sockets)
	UDP                        // UDP over IPv4
	UDP6                       // UDP over IPv6
	UnixStream                 // AF_UNIX SOCK_STREAM
	UnixDgram                  // AF_UNIX SOCK_DGRAM
	UnixSeqpacket              // AF_UNIX SOCK_SEQPACKET
	Netlink                    // AF_NETLINK
	Raw                        // SOCK_RAW over IPv4 or IPv6 (ping, ICMP)
	Packet                     // AF_PACKET
	numProtos
)

var protoNames = [numProtos]string{
	Other:         "other",
	TCP:           "tcp",
	TCP6:          "tcp6",
	UDP:           "udp",
	UDP6:          "udp6",
	UnixStream:    "unix stream",
	UnixDgram:     "unix dgram",
	UnixSeqpacket: "unix seqpacket",
	Netlink:       "netlink",
	Raw:           "raw",
	Packet:        "packet",
}

// String returns the protocol's name as reports print it ("tcp6", "unix
// stream"), or Proto(N) for a value sockstate does not define.
func (p Proto) String() string {
	if p < numProtos {
		return protoNames[p]
	}
	return "Proto(" + strconv.Itoa(int(p)) + ")"
}

// IsInet reports whether p is TCP or UDP over IPv4 or IPv6.
func (p Proto) IsInet() bool { return p >= TCP && p <= UDP6 }

// IsUnix reports whether p is a unix-domain socket type.
func (p Proto) IsUnix() bool { return p >= UnixStream && p <= UnixSeqpacket }

// State is a socket's state, numbered as the kernel numbers TCP states
// (include/net/tcp_states.h). UDP and unix sockets use the same numbers:
// Established for a connected socket, Closed for an unconnected one, Listen
// for a listening unix socket.
type State uint8

// The kernel's TCP states.
const (
	Established   State = 1  // ESTABLISHED
	SynSent       State = 2  // SYN_SENT
	SynRecv       State = 3  // SYN_RECV
	FinWait1      State = 4  // FIN_WAIT1
	FinWait2      State = 5  // FIN_WAIT2
	TimeWait      State = 6  // TIME_WAIT
	Closed        State = 7  // CLOSE
	CloseWait     State = 8  // CLOSE_WAIT
	LastAck       State = 9  // LAST_ACK
	Listen        State = 10 // LISTEN
	Closing       State = 11 // CLOSING
	NewSynRecv    State = 12 // NEW_SYN_RECV
	BoundInactive State = 13 // BOUND_INACTIVE (Linux ≥ 6.7)
)

var stateNames = [...]string{
	Established:   "ESTABLISHED",
	SynSent:       "SYN_SENT",
	SynRecv:       "SYN_RECV",
	FinWait1:      "FIN_WAIT1",
	FinWait2:      "FIN_WAIT2",
	TimeWait:      "TIME_WAIT",
	Closed:        "CLOSE",
	CloseWait:     "CLOSE_WAIT",
	LastAck:       "LAST_ACK",
	Listen:        "LISTEN",
	Closing:       "CLOSING",
	NewSynRecv:    "NEW_SYN_RECV",
	BoundInactive: "BOUND_INACTIVE",
}

// String returns the kernel's name of the state ("CLOSE_WAIT"), or State(N)
// for a number it does not name.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// stateName names s the way a socket of protocol p reads it: TCP uses the
// kernel's names; for UDP and unix sockets Established is CONNECTED and
// Closed is UNCONNECTED.
func stateName(p Proto, s State) string {
	if p != TCP && p != TCP6 {
		switch s {
		case Established:
			return "CONNECTED"
		case Closed:
			return "UNCONNECTED"
		}
	}
	return s.String()
}

// Socket is one socket.
type Socket struct {
	Inode uint64 // the socket's inode: its identity; 0 for kernel-owned orphans
	FD    int    // the lowest descriptor that refers to it, or -1 when none does
	Proto Proto
	State State

	// Local and Remote are the addresses of TCP, UDP and raw sockets; a
	// zero Remote means unconnected.
	Local, Remote netip.AddrPort

	// UnixPath is a unix socket's bound address: a path, "@name" for an
	// abstract name, or "" when unbound. UnixPeer is the inode of the
	// socket it is connected to, 0 when unconnected or unknown.
	UnixPath string
	UnixPeer uint64

	// RecvQ and SendQ are the kernel's queue lengths: for a listener the
	// connections waiting to be accepted and the backlog limit; otherwise
	// the bytes received and not yet read, and sent and not yet
	// acknowledged (TCP) or not yet sent.
	RecvQ, SendQ uint32

	UID uint32 // owner of the socket inode
}

// StateName is the state as the socket's protocol reads it: the kernel's TCP
// names ("CLOSE_WAIT"); CONNECTED, UNCONNECTED or LISTEN for UDP and unix.
func (s Socket) StateName() string { return stateName(s.Proto, s.State) }

// String describes the socket with the descriptor that holds it:
//
//	fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT
//	fd 4 unix stream /tmp/x.sock LISTEN
//	tcp 127.0.0.1:51234 → 127.0.0.1:25555 TIME_WAIT (no fd: kernel-owned)
func (s Socket) String() string {
	if s.FD < 0 {
		return s.Describe() + " (no fd: kernel-owned)"
	}
	return "fd " + strconv.Itoa(s.FD) + " " + s.Describe()
}

// Describe is String without the descriptor, for reports that list a
// socket under the descriptor already printed:
//
//	tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT
//	udp 127.0.0.1:5353 UNCONNECTED
//	unix stream @abstract → peer 1234 CONNECTED
//	tcp 127.0.0.1:40000 → 127.0.0.1:8080 CLOSE_WAIT recv-q 12
func (s Socket) Describe() string {
	var b strings.Builder
	b.WriteString(s.Proto.String())
	switch {
	case s.Proto.IsUnix():
		b.WriteByte(' ')
		if s.UnixPath != "" {
			b.WriteString(s.UnixPath)
		} else {
			b.WriteString("(unnamed)")
		}
		if s.UnixPeer != 0 {
			b.WriteString(" → peer ")
			b.WriteString(strconv.FormatUint(s.UnixPeer, 10))
		}
	case s.Local.IsValid() || s.Remote.IsValid():
		b.WriteByte(' ')
		b.WriteString(addrString(s.Local))
		if s.Remote.IsValid() && (s.Remote.Port() != 0 || !s.Remote.Addr().IsUnspecified()) {
			b.WriteString(" → ")
			b.WriteString(addrString(s.Remote))
		}
	default:
		if s.Proto == Other || s.Proto == Netlink || s.Proto == Packet || s.Proto == Raw {
			b.WriteString(" socket:[" + strconv.FormatUint(s.Inode, 10) + "]")
		}
	}
	if s.State != 0 {
		b.WriteByte(' ')
		b.WriteString(s.StateName())
	}
	if s.State != Listen {
		if s.RecvQ != 0 {
			b.WriteString(" recv-q " + strconv.FormatUint(uint64(s.RecvQ), 10))
		}
		if s.SendQ != 0 {
			b.WriteString(" send-q " + strconv.FormatUint(uint64(s.SendQ), 10))
		}
	}
	return b.String()
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return "*"
	}
	return a.String()
}

// Class is a protocol and state: what counts are kept per.
type Class struct {
	Proto Proto
	State State
}

// String renders the class as "tcp CLOSE_WAIT" or "udp UNCONNECTED".
func (c Class) String() string {
	if c.State == 0 {
		return c.Proto.String()
	}
	return c.Proto.String() + " " + stateName(c.Proto, c.State)
}

// Snapshot is the sockets of one process at one moment.
type Snapshot struct {
	PID int // the process described

	// NetNS is the inode of the network namespace the sockets were read in
	// (/proc/PID/ns/net), 0 when it could not be read.
	NetNS uint64

	// Source says how the sockets were read: "netlink", "getsockopt",
	// "proc", or several joined by "+", with the reason for a fallback in
	// parentheses, e.g. "proc (netlink refused: operation not permitted)".
	Source string

	Sockets []Socket // sorted by Inode

	// Orphans are the kernel-owned sockets (no descriptor, Inode 0) on
	// the ports WithOrphans names, sorted by local then remote address.
	Orphans []Socket

	// FDs is the descriptor snapshot the sockets were joined with: the one
	// WithFDs gave, or the one taken for this snapshot.
	FDs *fdsnap.Snapshot
}

// ByInode returns the socket with inode ino.
func (s *Snapshot) ByInode(ino uint64) (Socket, bool) {
	i, ok := slices.BinarySearchFunc(s.Sockets, ino, func(s Socket, ino uint64) int {
		switch {
		case s.Inode < ino:
			return -1
		case s.Inode > ino:
			return 1
		}
		return 0
	})
	if !ok {
		return Socket{}, false
	}
	return s.Sockets[i], true
}

// Counts returns how many sockets of each class the snapshot holds
// (orphans not included).
func (s *Snapshot) Counts() map[Class]int {
	m := make(map[Class]int)
	for _, k := range s.Sockets {
		m[Class{k.Proto, k.State}]++
	}
	return m
}

// String lists the snapshot, one socket per line:
//
//	pid 4242 (netlink, netns 4026531840): 2 sockets
//	  fd 3 tcp 127.0.0.1:8080 LISTEN
//	  fd 7 tcp 127.0.0.1:8080 → 127.0.0.1:51234 ESTABLISHED
func (s *Snapshot) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d (%s, netns %d): %s", s.PID, s.Source, s.NetNS, plural(len(s.Sockets), "socket"))
	for _, k := range s.Sockets {
		b.WriteString("\n  " + k.String())
	}
	if len(s.Orphans) > 0 {
		b.WriteString("\n  " + plural(len(s.Orphans), "kernel-owned socket") + ":")
		for _, k := range s.Orphans {
			b.WriteString("\n    " + k.Describe())
		}
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Change is a socket present in both snapshots whose state changed.
type Change struct {
	Old, New Socket
}

// Diff is what changed between two snapshots, by inode. A state change is
// not a leak; it is kept so a report can show it.
type Diff struct {
	Added   []Socket // sockets only in the later snapshot
	Removed []Socket // sockets only in the earlier snapshot
	Changed []Change // sockets in both whose state changed
}

// Compare returns the difference from before to after.
func Compare(before, after *Snapshot) Diff {
	var d Diff
	a, b := before.Sockets, after.Sockets
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Inode < b[j].Inode):
			d.Removed = append(d.Removed, a[i])
			i++
		case i == len(a) || b[j].Inode < a[i].Inode:
			d.Added = append(d.Added, b[j])
			j++
		default:
			if a[i].State != b[j].State {
				d.Changed = append(d.Changed, Change{Old: a[i], New: b[j]})
			}
			i++
			j++
		}
	}
	return d
}

// Empty reports whether no socket was added or removed and none changed
// state.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// String summarises the diff, then one line per socket:
//
//	opened 1 socket, closed 0 sockets, 1 changed state
//	  + fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 ESTABLISHED
//	  ~ fd 7 tcp 127.0.0.1:51230 → 127.0.0.1:25555 ESTABLISHED → CLOSE_WAIT
func (d Diff) String() string {
	if d.Empty() {
		return "no change"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "opened %s, closed %s, %d changed state",
		plural(len(d.Added), "socket"), plural(len(d.Removed), "socket"), len(d.Changed))
	for _, s := range d.Added {
		b.WriteString("\n  + " + s.String())
	}
	for _, c := range d.Changed {
		b.WriteString("\n  ~ " + c.Old.String() + " → " + c.New.StateName())
	}
	for _, s := range d.Removed {
		b.WriteString("\n  - " + s.String())
	}
	return b.String()
}

// Option configures a snapshot.
type Option interface{ apply(*config) }

type config struct {
	fds     *fdsnap.Snapshot
	orphans bool
	ports   []uint16

	// Test-only knobs.
	method     method // force a way of reading (methodAuto by default)
	netlinkErr error  // pretend netlink was refused with this error
}

type method uint8

const (
	methodAuto       method = iota
	methodNetlink           // dumps, per-fd getsockopt only for what they miss
	methodGetsockopt        // per-fd getsockopt (current process only)
	methodProc              // /proc/PID/net tables
)

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithFDs joins the sockets with a descriptor snapshot the caller already
// took of the same process, instead of taking one: leakcheck lists
// /proc/PID/fd once per sample. Sockets opened after it was taken are not
// seen.
func WithFDs(s *fdsnap.Snapshot) Option {
	return optionFunc(func(c *config) { c.fds = s })
}

// WithOrphans adds to Snapshot.Orphans the kernel-owned TCP sockets (no
// descriptor refers to them any more: TIME_WAIT, and FIN_WAIT1, FIN_WAIT2,
// CLOSING, LAST_ACK after close) whose local or remote port is one of ports,
// in the target's network namespace. Many such sockets on one port mean
// connections are opened and closed faster than the kernel retires them:
// the way ports run out. With no ports, every orphan is included.
func WithOrphans(ports ...uint16) Option {
	return optionFunc(func(c *config) {
		c.orphans = true
		c.ports = append(c.ports, ports...)
	})
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

func (c *config) wantOrphan(local, remote uint16) bool {
	if len(c.ports) == 0 {
		return true
	}
	return slices.Contains(c.ports, local) || slices.Contains(c.ports, remote)
}

// Take snapshots the sockets of the current process.
func Take(opts ...Option) (*Snapshot, error) {
	return take(0, newConfig(opts))
}

// TakePID snapshots the sockets of process pid, read in its network
// namespace. A pid that does not exist gives an error wrapping
// os.ErrNotExist; one this user may not inspect, os.ErrPermission.
func TakePID(pid int, opts ...Option) (*Snapshot, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("sockstate: invalid pid %d", pid)
	}
	return take(pid, newConfig(opts))
}

// Count returns how many sockets of each class the current process holds.
// It skips what only a report needs (unix names, sorting, the Socket list),
// for soak tests that sample often.
func Count(opts ...Option) (map[Class]int, error) {
	return count(0, newConfig(opts))
}

// CountPID is Count for process pid.
func CountPID(pid int, opts ...Option) (map[Class]int, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("sockstate: invalid pid %d", pid)
	}
	return count(pid, newConfig(opts))
}
