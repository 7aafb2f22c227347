// Package sockstate lists the sockets of the current process or of any
// process by PID: protocol, state, local and remote address, queues and
// owner, joined by inode with the descriptors of package fdsnap. It is the
// collector that turns a leaked "socket:[48213]" descriptor into
//
//	fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT
//
// so that the HTTP client that never closes its connections, the gRPC
// subchannel that keeps its socket, and the proxy that keeps its listeners
// are named in a report.
//
// # Use
//
//	before, err := sockstate.Take()
//	// … run the code under test …
//	after, err := sockstate.Take()
//	for _, s := range sockstate.Compare(before, after).Added {
//		fmt.Println("still open:", s)
//	}
//
// Sockets are identified by inode: Compare reports sockets opened and
// closed, not counts, so a closed socket replaced by a new one is seen.
// Count and CountPID give per-protocol, per-state counts for soak tests that
// sample often, and WithOrphans adds the kernel-owned TIME_WAIT and
// FIN_WAIT2 sockets on chosen ports (they have no descriptor any more, which
// is how port exhaustion hides from a descriptor count).
//
// # How
//
// On Linux the sockets come from NETLINK_SOCK_DIAG dumps (inet_diag for TCP
// and UDP over IPv4 and IPv6, unix_diag for unix sockets) of the target's
// network namespace, filtered to the inodes its descriptors hold. For a
// handful of sockets of the current process, per-descriptor getsockopt is
// cheaper than a dump, and it is chosen by count; it also describes the
// sockets no dump lists (never bound, a failed connect, netlink, raw and
// packet sockets). For another process such sockets are described the same
// way through a copy of its descriptor (pidfd_getfd), when permitted. When
// netlink is refused the tables under /proc/PID/net are parsed instead.
// Snapshot.Source says which of these was used and why.
//
// A process in another network namespace is read in that namespace: the
// netlink socket is opened inside it (setns(2) on a locked thread, which
// needs CAP_SYS_ADMIN), or else /proc/PID/net is read, which is already that
// process's view. Snapshot.NetNS says which namespace was seen.
//
// # Limits
//
// Linux only; elsewhere every function returns an error wrapping
// errors.ErrUnsupported. Unix sockets read from /proc/PID/net lack the peer
// and owner; UDP queues read with getsockopt are the next datagram's size
// and the unsent bytes, not the kernel's memory counters. An address that
// is an IPv4-mapped IPv6 address is shown as the IPv4 address; Proto still
// says tcp6 or udp6.
package sockstate
