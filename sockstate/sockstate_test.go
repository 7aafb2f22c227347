package sockstate

import (
	"net/netip"
	"testing"
)

func TestStrings(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		s    Socket
		want string
	}{
		{"the health monitor's leak", Socket{FD: 9, Proto: TCP, State: CloseWait, Local: ap("127.0.0.1:51234"), Remote: ap("127.0.0.1:25555")},
			"fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT"},
		{"unread data is shown", Socket{FD: 9, Proto: TCP, State: CloseWait, Local: ap("127.0.0.1:51234"), Remote: ap("127.0.0.1:25555"), RecvQ: 12},
			"fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT recv-q 12"},
		{"a listener's queues are its backlog, not data", Socket{FD: 3, Proto: TCP6, State: Listen, Local: ap("[::]:8080"), SendQ: 4096},
			"fd 3 tcp6 [::]:8080 LISTEN"},
		{"UDP reads CONNECTED", Socket{FD: 4, Proto: UDP, State: Established, Local: ap("127.0.0.1:5000"), Remote: ap("127.0.0.1:53")},
			"fd 4 udp 127.0.0.1:5000 → 127.0.0.1:53 CONNECTED"},
		{"UDP reads UNCONNECTED", Socket{FD: 4, Proto: UDP6, State: Closed, Local: ap("[::1]:5353")},
			"fd 4 udp6 [::1]:5353 UNCONNECTED"},
		{"a unix listener by path", Socket{FD: 5, Proto: UnixStream, State: Listen, UnixPath: "/tmp/x.sock"},
			"fd 5 unix stream /tmp/x.sock LISTEN"},
		{"an abstract unix socket and its peer", Socket{FD: 6, Proto: UnixStream, State: Established, UnixPath: "@abstract", UnixPeer: 1234},
			"fd 6 unix stream @abstract → peer 1234 CONNECTED"},
		{"an unnamed unix socket", Socket{FD: 7, Proto: UnixDgram, State: Closed},
			"fd 7 unix dgram (unnamed) UNCONNECTED"},
		{"a kernel-owned orphan", Socket{FD: -1, Proto: TCP, State: TimeWait, Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:40000")},
			"tcp 127.0.0.1:8080 → 127.0.0.1:40000 TIME_WAIT (no fd: kernel-owned)"},
		{"a never-bound TCP socket", Socket{FD: 8, Proto: TCP, State: Closed},
			"fd 8 tcp CLOSE"},
		{"a netlink socket", Socket{FD: 10, Inode: 777, Proto: Netlink},
			"fd 10 netlink socket:[777]"},
		{"a state the kernel added later", Socket{FD: 11, Proto: TCP, State: 99, Local: ap("127.0.0.1:1")},
			"fd 11 tcp 127.0.0.1:1 State(99)"},
		{"a protocol value sockstate does not define", Socket{FD: 12, Inode: 5, Proto: 200},
			"fd 12 Proto(200)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	for st, want := range map[State]string{Established: "ESTABLISHED", FinWait2: "FIN_WAIT2", Closed: "CLOSE", Listen: "LISTEN", 0: "State(0)", 12: "NEW_SYN_RECV", 14: "State(14)"} {
		if st.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(st), st.String(), want)
		}
	}
	if got := (Class{UnixStream, Established}).String(); got != "unix stream CONNECTED" {
		t.Errorf("Class = %q", got)
	}
}

func TestCompare(t *testing.T) {
	a := &Snapshot{Sockets: []Socket{
		{Inode: 1, FD: 3, Proto: TCP, State: Listen, Local: netip.MustParseAddrPort("127.0.0.1:80")},
		{Inode: 2, FD: 4, Proto: TCP, State: Established, Local: netip.MustParseAddrPort("127.0.0.1:80"), Remote: netip.MustParseAddrPort("127.0.0.1:5000")},
		{Inode: 3, FD: 5, Proto: UDP, State: Closed, Local: netip.MustParseAddrPort("127.0.0.1:53")},
	}}
	b := &Snapshot{Sockets: []Socket{
		a.Sockets[0],
		{Inode: 2, FD: 4, Proto: TCP, State: CloseWait, Local: netip.MustParseAddrPort("127.0.0.1:80"), Remote: netip.MustParseAddrPort("127.0.0.1:5000")},
		// fd 5 reused by another socket: identity is the inode.
		{Inode: 9, FD: 5, Proto: UDP, State: Closed, Local: netip.MustParseAddrPort("127.0.0.1:54")},
	}}
	d := Compare(a, b)
	want := `opened 1 socket, closed 1 socket, 1 changed state
  + fd 5 udp 127.0.0.1:54 UNCONNECTED
  ~ fd 4 tcp 127.0.0.1:80 → 127.0.0.1:5000 ESTABLISHED → CLOSE_WAIT
  - fd 5 udp 127.0.0.1:53 UNCONNECTED`
	if d.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", d, want)
	}
	if !Compare(a, a).Empty() || Compare(a, a).String() != "no change" {
		t.Error("a snapshot differs from itself")
	}
	if k, ok := b.ByInode(9); !ok || k.Local.Port() != 54 {
		t.Errorf("ByInode(9) = %v, %v", k, ok)
	}
	if _, ok := b.ByInode(3); ok {
		t.Error("ByInode(3) found a closed socket")
	}
}
