package sockdiag

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// The encoders below build replies the way the kernel lays them out,
// independently of the parser.

func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, 16, 16+len(payload)+3)
	binary.NativeEndian.PutUint32(b, uint32(16+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], 2) // NLM_F_MULTI
	binary.NativeEndian.PutUint32(b[8:], seq)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlattr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func inetMsg(s InetSock) []byte {
	p := make([]byte, 72)
	p[0], p[1] = s.Family, s.State
	binary.BigEndian.PutUint16(p[4:], s.SrcPort)
	binary.BigEndian.PutUint16(p[6:], s.DstPort)
	copy(p[8:24], s.Src[:])
	copy(p[24:40], s.Dst[:])
	binary.NativeEndian.PutUint32(p[40:], s.IfIndex)
	binary.NativeEndian.PutUint32(p[52:], 1234) // expires: ignored
	binary.NativeEndian.PutUint32(p[56:], s.RQueue)
	binary.NativeEndian.PutUint32(p[60:], s.WQueue)
	binary.NativeEndian.PutUint32(p[64:], s.UID)
	binary.NativeEndian.PutUint32(p[68:], s.Inode)
	return p
}

func done(seq uint32) []byte { return nlmsg(nlmsgDone, seq, u32(0)) }

func negErrno(e syscall.Errno) uint32 { return uint32(-int32(e)) }

// Linux's errno numbers, which the kernel negates into NLMSG_ERROR and
// NLMSG_DONE. These tests run on every OS, and Windows numbers its
// syscall.EPERM and the like differently.
const (
	linuxEPERM  = syscall.Errno(1)
	linuxENOENT = syscall.Errno(2)
	linuxEINTR  = syscall.Errno(4)
)

func errMsg(seq uint32, code int32) []byte {
	return nlmsg(nlmsgError, seq, append(u32(uint32(code)), make([]byte, 16)...))
}

func TestRequests(t *testing.T) {
	b := InetRequest(7, AFInet6, ProtoUDP, 1<<1|1<<7)
	if len(b) != 16+56 {
		t.Fatalf("inet request is %d bytes, want 72 (nlmsghdr + inet_diag_req_v2)", len(b))
	}
	if got := binary.NativeEndian.Uint32(b); got != 72 {
		t.Errorf("nlmsg_len = %d, want 72", got)
	}
	if typ, flags := binary.NativeEndian.Uint16(b[4:]), binary.NativeEndian.Uint16(b[6:]); typ != 20 || flags != 0x301 {
		t.Errorf("type %d flags %#x, want SOCK_DIAG_BY_FAMILY (20) and NLM_F_REQUEST|NLM_F_DUMP (0x301)", typ, flags)
	}
	if seq := binary.NativeEndian.Uint32(b[8:]); seq != 7 {
		t.Errorf("seq = %d, want 7", seq)
	}
	if b[16] != AFInet6 || b[17] != ProtoUDP || b[18] != 0 {
		t.Errorf("family/protocol/ext = %d/%d/%d, want 10/17/0", b[16], b[17], b[18])
	}
	if st := binary.NativeEndian.Uint32(b[20:]); st != 1<<1|1<<7 {
		t.Errorf("states = %#x", st)
	}
	if !bytes.Equal(b[24:], make([]byte, 48)) {
		t.Errorf("inet_diag_sockid not zero: %x", b[24:])
	}

	u := UnixRequest(9, AllStates, UnixShowName|UnixShowPeer)
	if len(u) != 16+24 {
		t.Fatalf("unix request is %d bytes, want 40 (nlmsghdr + unix_diag_req)", len(u))
	}
	if u[16] != AFUnix || binary.NativeEndian.Uint32(u[20:]) != AllStates || binary.NativeEndian.Uint32(u[28:]) != 5 {
		t.Errorf("unix_diag_req = %x", u[16:])
	}
}

func TestParseInet(t *testing.T) {
	a := InetSock{Family: AFInet, State: 8, SrcPort: 51234, DstPort: 25555, RQueue: 3, WQueue: 4, UID: 1000, Inode: 4242}
	copy(a.Src[:], []byte{127, 0, 0, 1})
	copy(a.Dst[:], []byte{127, 0, 0, 2})
	b6 := InetSock{Family: AFInet6, State: 10, SrcPort: 8080, Inode: 99, IfIndex: 1}
	b6.Src[15] = 1
	buf := append(nlmsg(SockDiagByFamily, 5, inetMsg(a)), nlmsg(SockDiagByFamily, 5, append(inetMsg(b6), nlattr(1, []byte{1, 2, 3})...))...)

	var got []InetSock
	d, err := ParseInet(buf, 5, func(s *InetSock) { got = append(got, *s) })
	if err != nil || d {
		t.Fatalf("ParseInet = %v, %v; want not done, no error", d, err)
	}
	if len(got) != 2 || got[0] != a || got[1] != b6 {
		t.Fatalf("got %+v\nwant %+v and %+v", got, a, b6)
	}
	d, err = ParseInet(done(5), 5, func(*InetSock) { t.Error("callback on NLMSG_DONE") })
	if err != nil || !d {
		t.Fatalf("on NLMSG_DONE: %v, %v; want done", d, err)
	}
}

func TestParseUnix(t *testing.T) {
	msg := make([]byte, 16)
	msg[0], msg[1], msg[2] = AFUnix, 1, 10
	binary.NativeEndian.PutUint32(msg[4:], 777)
	msg = append(msg, nlattr(unixDiagName, []byte("\x00abstract"))...)
	msg = append(msg, nlattr(unixDiagPeer, u32(778))...)
	msg = append(msg, nlattr(unixDiagRQLen, append(u32(2), u32(128)...))...)
	msg = append(msg, nlattr(unixDiagUID, u32(1000))...)
	msg = append(msg, nlattr(99, []byte("future attribute"))...)
	buf := append(nlmsg(SockDiagByFamily, 1, msg), done(1)...)
	var got []UnixSock
	var names []string
	d, err := ParseUnix(buf, 1, func(s *UnixSock) { got = append(got, *s); names = append(names, string(s.Name)) })
	if err != nil || !d {
		t.Fatalf("ParseUnix = %v, %v", d, err)
	}
	want := UnixSock{Type: 1, State: 10, Inode: 777, HasPeer: true, Peer: 778, HasQueues: true, RQueue: 2, WQueue: 128, HasUID: true, UID: 1000}
	if len(got) != 1 {
		t.Fatalf("got %d sockets, want 1", len(got))
	}
	got[0].Name = nil
	if !reflect.DeepEqual(got[0], want) || names[0] != "\x00abstract" {
		t.Errorf("got %+v name %q\nwant %+v name \"\\x00abstract\"", got[0], names[0], want)
	}
}

func TestParseErrors(t *testing.T) {
	good := InetSock{Family: AFInet, Inode: 1}
	hdr := nlmsg(SockDiagByFamily, 1, inetMsg(good))
	bigLen := append([]byte(nil), hdr...)
	binary.NativeEndian.PutUint32(bigLen, 4096)
	shortLen := append([]byte(nil), hdr...)
	binary.NativeEndian.PutUint32(shortLen, 8)
	badFamily := inetMsg(good)
	badFamily[0] = 99
	tests := []struct {
		name string
		buf  []byte
		want string
		is   error
	}{
		{"a header cut short", hdr[:10], "less than a message header", ErrTruncated},
		{"length past the buffer", bigLen, "message of 4096 bytes", ErrTruncated},
		{"length shorter than the header", shortLen, "shorter than its header", nil},
		{"another request's reply", nlmsg(SockDiagByFamily, 2, inetMsg(good)), "sequence 2 while waiting for 1", nil},
		{"a payload shorter than inet_diag_msg", nlmsg(SockDiagByFamily, 1, make([]byte, 40)), "inet_diag_msg of 40 bytes", ErrTruncated},
		{"an unknown address family", nlmsg(SockDiagByFamily, 1, badFamily), "address family 99", nil},
		{"the kernel refuses", errMsg(1, -int32(linuxEPERM)), "kernel refused", linuxEPERM},
		{"a protocol without a diag module", errMsg(1, -int32(linuxENOENT)), "kernel refused", linuxENOENT},
		{"an NLMSG_ERROR cut short", nlmsg(nlmsgError, 1, []byte{1}), "NLMSG_ERROR of 1 bytes", ErrTruncated},
		{"a nonsense error code", errMsg(1, 5), "code 5", nil},
		{"a dump that ends in error", nlmsg(nlmsgDone, 1, u32(negErrno(linuxEINTR))), "dump ended with error", linuxEINTR},
		{"an unexpected message type", nlmsg(16, 1, nil), "unexpected message type 16", nil},
		{"a truncated attribute", nlmsg(SockDiagByFamily, 1, append(inetMsg(good), 8, 0, 1, 0)), "attribute of 8 bytes with 4 left", ErrTruncated},
		{"an attribute shorter than its header", nlmsg(SockDiagByFamily, 1, append(inetMsg(good), 2, 0, 1, 0)), "shorter than its header", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInet(tt.buf, 1, func(*InetSock) {})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.is)
			}
		})
	}
	unixShort := make([]byte, 16)
	unixShort[0] = AFUnix
	for name, buf := range map[string][]byte{
		"short UNIX_DIAG_PEER":  nlmsg(SockDiagByFamily, 1, append(append([]byte(nil), unixShort...), nlattr(unixDiagPeer, []byte{1, 2})...)),
		"short UNIX_DIAG_RQLEN": nlmsg(SockDiagByFamily, 1, append(append([]byte(nil), unixShort...), nlattr(unixDiagRQLen, u32(1))...)),
		"short UNIX_DIAG_UID":   nlmsg(SockDiagByFamily, 1, append(append([]byte(nil), unixShort...), nlattr(unixDiagUID, nil)...)),
		"short unix_diag_msg":   nlmsg(SockDiagByFamily, 1, unixShort[:8]),
		"inet in a unix dump":   nlmsg(SockDiagByFamily, 1, inetMsg(good)),
	} {
		if _, err := ParseUnix(buf, 1, func(*UnixSock) {}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// captured describes the sockets TestCapture (capture_linux_test.go)
// creates, for the fixture tests, which run on every OS, to find in the
// dumps.
type captured struct {
	ListenPort uint16 // a TCP listener on 127.0.0.1
	ClientPort uint16 // a client connected to it (both ends ESTABLISHED)
	UnixPath   string // a unix stream listener bound to a path
	Abstract   string // a unix stream listener with this abstract name (no leading NUL)
}

func loadFixture(t testing.TB) (tcp, unixb []byte, info captured) {
	t.Helper()
	var err error
	if tcp, err = os.ReadFile(filepath.Join("testdata", "tcp4.bin")); err != nil {
		t.Fatal(err)
	}
	if unixb, err = os.ReadFile(filepath.Join("testdata", "unix.bin")); err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(filepath.Join("testdata", "capture.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &info); err != nil {
		t.Fatal(err)
	}
	return tcp, unixb, info
}

// TestFixtures parses dumps captured from a live kernel (little-endian
// x86-64) and finds the sockets the capture created.
func TestFixtures(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixtures were captured on a little-endian machine; netlink headers are in host order")
	}
	tcp, unixb, info := loadFixture(t)
	checkTCPFixture(t, tcp, info)
	checkUnixFixture(t, unixb, info)
}

func checkTCPFixture(t *testing.T, b []byte, info captured) {
	t.Helper()
	var listen, client, server bool
	n := 0
	d, err := ParseInet(b, 1, func(s *InetSock) {
		n++
		lo := [16]byte{127, 0, 0, 1}
		switch {
		case s.State == 10 && s.SrcPort == info.ListenPort && s.Src == lo && s.Inode != 0:
			listen = true
		case s.State == 1 && s.SrcPort == info.ClientPort && s.DstPort == info.ListenPort && s.Dst == lo:
			client = true
		case s.State == 1 && s.SrcPort == info.ListenPort && s.DstPort == info.ClientPort:
			server = true
		}
	})
	if err != nil || !d {
		t.Fatalf("tcp dump: done %v, err %v", d, err)
	}
	if !listen || !client || !server {
		t.Errorf("tcp dump of %d sockets: listener on %d found %v, client %d→%d %v, server side %v",
			n, info.ListenPort, listen, info.ClientPort, info.ListenPort, client, server)
	}
}

func checkUnixFixture(t *testing.T, b []byte, info captured) {
	t.Helper()
	var path, abstract bool
	d, err := ParseUnix(b, 1, func(s *UnixSock) {
		name := string(s.Name)
		switch {
		case s.State == 10 && s.Type == 1 && strings.TrimRight(name, "\x00") == info.UnixPath:
			path = s.HasUID && s.HasQueues
		case s.State == 10 && name == "\x00"+info.Abstract:
			abstract = true
		}
	})
	if err != nil || !d {
		t.Fatalf("unix dump: done %v, err %v", d, err)
	}
	if !path || !abstract {
		t.Errorf("unix dump: listener on %s found %v, on @%s %v", info.UnixPath, path, info.Abstract, abstract)
	}
}

// TestEveryPrefix cuts a real dump at every length: each cut must give an
// error or an unfinished dump, never a panic or a finished one.
func TestEveryPrefix(t *testing.T) {
	tcp, unixb, _ := loadFixture(t)
	for _, b := range [][]byte{tcp[:min(len(tcp), 2048)], tcp[max(0, len(tcp)-512):], unixb[:min(len(unixb), 2048)]} {
		for n := 0; n < len(b); n++ {
			d1, _ := ParseInet(b[:n], 1, func(*InetSock) {})
			d2, _ := ParseUnix(b[:n], 1, func(*UnixSock) {})
			if (d1 || d2) && !bytes.HasSuffix(b[:n], done(1)) {
				t.Fatalf("prefix of %d bytes reported done", n)
			}
		}
	}
}

func FuzzParseInet(f *testing.F) {
	tcp, _, _ := loadFixture(f)
	f.Add(tcp[:min(len(tcp), 1024)])
	f.Add(errMsg(1, -1))
	f.Add(done(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_, err := ParseInet(b, 1, func(s *InetSock) { n++ })
		if err == nil && n > len(b)/88 {
			t.Fatalf("%d sockets from %d bytes", n, len(b))
		}
	})
}

func FuzzParseUnix(f *testing.F) {
	_, unixb, _ := loadFixture(f)
	f.Add(unixb[:min(len(unixb), 1024)])
	f.Add(done(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ParseUnix(b, 1, func(s *UnixSock) {
			if len(s.Name) > len(b) {
				panic(fmt.Sprintf("name of %d bytes from %d", len(s.Name), len(b)))
			}
		})
		_ = err
	})
}
