// Package sockdiag builds NETLINK_SOCK_DIAG dump requests and parses the
// replies: inet_diag (TCP and UDP over IPv4 and IPv6) and unix_diag. It does
// no I/O; the caller sends the request bytes on a netlink socket and hands
// each received buffer to ParseInet or ParseUnix. golang.org/x/sys/unix has
// the constants but not these structures, so they are mirrored here from the
// kernel's UAPI headers (named next to each one). All multi-byte netlink
// fields are in host byte order, except the ports and addresses of
// inet_diag_sockid, which are in network byte order.
//
// The parsers allocate nothing per socket: they call back with a pointer to
// a record that is reused for the next socket, and whose byte slices point
// into the caller's buffer.
package sockdiag
