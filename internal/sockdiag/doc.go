// Package sockdiag speaks NETLINK_SOCK_DIAG: it builds dump requests and
// parses the replies, inet_diag (TCP and UDP over IPv4 and IPv6) and
// unix_diag, and on Linux it sends them.
//
// The encoders (InetRequest, UnixRequest) and the parsers (ParseInet,
// ParseUnix) are pure functions and build on every OS; they are tested
// against dumps captured under testdata. golang.org/x/sys/unix has the
// constants but not these structures, so they are mirrored here from the
// kernel's UAPI headers (named next to each one). All multi-byte netlink
// fields are in host byte order, except the ports and addresses of
// inet_diag_sockid, which are in network byte order.
//
// A Conn (Linux only) is a sock_diag socket: Dial opens one in the calling
// thread's network namespace, DialIn in another namespace, and DumpInet
// and DumpUnix send a request and parse every reply until the end of the
// dump.
//
// The parsers allocate nothing per socket: they call back with a pointer to
// a record that is reused for the next socket, and whose byte slices point
// into the buffer being parsed (a Conn's receive buffer, reused for its
// next read).
package sockdiag
