package sockdiag

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
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

// liveDump sends req on a Conn and returns every reply buffer
// concatenated, up to and including NLMSG_DONE.
func liveDump(t *testing.T, req []byte) []byte {
	t.Helper()
	c, err := Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seq := binary.NativeEndian.Uint32(req[8:])
	var all []byte
	err = c.dump(req, func(b []byte) (bool, error) {
		all = append(all, b...)
		if req[nlmsgHdrLen] == AFUnix {
			return ParseUnix(b, seq, func(*UnixSock) {})
		}
		return ParseInet(b, seq, func(*InetSock) {})
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}
