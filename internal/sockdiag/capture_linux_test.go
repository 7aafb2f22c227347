package sockdiag

import (
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

var capture = flag.Bool("capture", false, "regenerate testdata/*.bin from live netlink dumps (see testdata/README.md)")

// TestCapture regenerates the binary fixtures with -capture; without it, it
// checks that the live kernel still answers the way the fixtures say.
func TestCapture(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	path := filepath.Join(t.TempDir(), "capture.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	abstract := "leakcheck-sockdiag-capture"
	al, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	info := captured{
		ListenPort: uint16(l.Addr().(*net.TCPAddr).Port),
		ClientPort: uint16(c.LocalAddr().(*net.TCPAddr).Port),
		UnixPath:   path,
		Abstract:   abstract,
	}

	tcp := liveDump(t, InetRequest(1, AFInet, ProtoTCP, AllStates))
	unixb := liveDump(t, UnixRequest(1, AllStates, UnixShowName|UnixShowPeer|UnixShowRQLen|UnixShowUID))
	// The live dumps must hold what the fixture tests look for.
	checkTCPFixture(t, tcp, info)
	checkUnixFixture(t, unixb, info)
	if !*capture {
		return
	}
	j, _ := json.MarshalIndent(info, "", "\t")
	for name, b := range map[string][]byte{"tcp4.bin": tcp, "unix.bin": unixb, "capture.json": j} {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote testdata/tcp4.bin (%d bytes), testdata/unix.bin (%d bytes)", len(tcp), len(unixb))
}

// liveDump sends req on a NETLINK_SOCK_DIAG socket and returns every reply
// buffer concatenated, up to and including NLMSG_DONE.
func liveDump(t *testing.T, req []byte) []byte {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		t.Fatalf("netlink socket: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	var all []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, buf[:n]...)
		done, err := ParseInet(buf[:n], 1, func(*InetSock) {})
		if err != nil && req[nlmsgHdrLen] != AFUnix {
			t.Fatal(err)
		}
		if req[nlmsgHdrLen] == AFUnix {
			done, err = ParseUnix(buf[:n], 1, func(*UnixSock) {})
			if err != nil {
				t.Fatal(err)
			}
		}
		if done {
			return all
		}
	}
}
