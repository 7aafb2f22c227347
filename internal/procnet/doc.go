// Package procnet parses the socket tables the Linux kernel prints under
// /proc/PID/net: tcp, tcp6, udp, udp6 (one format, net/ipv4/tcp_ipv4.c,
// net/ipv6/tcp_ipv6.c, net/ipv4/udp.c) and unix (net/unix/af_unix.c). They
// are a process's view of its network namespace, and the fallback when
// NETLINK_SOCK_DIAG is refused. The parsers are pure functions over the
// file's bytes; like package sockdiag they call back with a reused record
// and allocate nothing per line.
package procnet
