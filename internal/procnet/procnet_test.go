package procnet

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestParseInetLines(t *testing.T) {
	in := tcpHeader +
		"   0: 0100007F:0050 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 0100007F:C822 0100007F:63D3 08 0000000A:0000000B 00:00000000 00000000  1000        0 67890 1 0000000000000000 20 4 30 10 -1\n" +
		"   2: 0100007F:C824 0100007F:63D3 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n"
	var got []InetEntry
	if err := ParseInet([]byte(in), binary.LittleEndian, func(e *InetEntry) { got = append(got, *e) }); err != nil {
		t.Fatal(err)
	}
	lo := [16]byte{127, 0, 0, 1}
	want := []InetEntry{
		{Local: lo, LocalPort: 80, State: 10, RxQueue: 2, Inode: 12345},
		{Local: lo, Remote: lo, LocalPort: 51234, RemotePort: 25555, State: 8, TxQueue: 10, RxQueue: 11, UID: 1000, Inode: 67890},
		{Local: lo, Remote: lo, LocalPort: 51236, RemotePort: 25555, State: 6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseInetIPv6AndByteOrder(t *testing.T) {
	// ::1 as the kernel prints it: four 32-bit words, each in host order.
	line := "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1\n"
	var e InetEntry
	if err := ParseInet([]byte(tcpHeader+line), binary.LittleEndian, func(p *InetEntry) { e = *p }); err != nil {
		t.Fatal(err)
	}
	if !e.IPv6 || netip.AddrFrom16(e.Local) != netip.MustParseAddr("::1") || e.LocalPort != 8080 {
		t.Errorf("little-endian: got %v port %d (v6 %v), want ::1 port 8080", netip.AddrFrom16(e.Local), e.LocalPort, e.IPv6)
	}
	// The same address printed by a big-endian kernel.
	line = strings.Replace(line, "00000000000000000000000001000000:1F90", "00000000000000000000000000000001:1F90", 1)
	if err := ParseInet([]byte(tcpHeader+line), binary.BigEndian, func(p *InetEntry) { e = *p }); err != nil {
		t.Fatal(err)
	}
	if netip.AddrFrom16(e.Local) != netip.MustParseAddr("::1") {
		t.Errorf("big-endian: got %v, want ::1", netip.AddrFrom16(e.Local))
	}
}

func TestParseUnixLines(t *testing.T) {
	in := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/a b.sock\n" +
		"0000000000000000: 00000002 00000000 00000000 0002 01 12346 @name@with@nul\n" +
		"0000000000000000: 00000003 00000000 00000000 0001 03 12347\n" +
		"0000000000000000: 00000002 00000000 00000000 0005 03 12348 \n"
	type row struct {
		e    UnixEntry
		path string
	}
	var got []row
	if err := ParseUnix([]byte(in), func(e *UnixEntry) { r := row{*e, string(e.Path)}; r.e.Path = nil; got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	want := []row{
		{UnixEntry{Flags: AcceptCon, Type: 1, State: 1, Inode: 12345}, "/run/a b.sock"},
		{UnixEntry{Type: 2, State: 1, Inode: 12346}, "@name@with@nul"},
		{UnixEntry{Type: 1, State: 3, Inode: 12347}, ""},
		{UnixEntry{Type: 5, State: 3, Inode: 12348}, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].e.Flags != want[i].e.Flags || got[i].e.Type != want[i].e.Type || got[i].e.State != want[i].e.State ||
			got[i].e.Inode != want[i].e.Inode || got[i].path != want[i].path {
			t.Errorf("line %d: got %+v %q, want %+v %q", i, got[i].e, got[i].path, want[i].e, want[i].path)
		}
	}
}

func TestParseBadInput(t *testing.T) {
	row := "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1\n"
	inet := []struct{ name, in, want string }{
		{"empty file", "", "missing header"},
		{"no header", row, "missing header"},
		{"too few fields", tcpHeader + "   0: 0100007F:0050 00000000:0000 0A\n", "4 fields"},
		{"slot without colon", tcpHeader + strings.Replace(row, "0:", "0", 1), "does not end in ':'"},
		{"address without port", tcpHeader + strings.Replace(row, "0100007F:0050", "0100007F", 1), "want ADDR:PORT"},
		{"address of odd length", tcpHeader + strings.Replace(row, "0100007F:0050", "0100007:0050", 1), "7 hex digits"},
		{"mixed families", tcpHeader + strings.Replace(row, "00000000:0000", "00000000000000000000000000000000:0000", 1), "different families"},
		{"non-hex state", tcpHeader + strings.Replace(row, " 0A ", " ZZ ", 1), "state"},
		{"queues without colon", tcpHeader + strings.Replace(row, "00000000:00000000", "0000000000000000", 1), "want tx:rx"},
		{"uid out of range", tcpHeader + strings.Replace(row, "     0        0 12345", " 99999999999        0 12345", 1), "uid"},
		{"inode not a number", tcpHeader + strings.Replace(row, "12345", "12a45", 1), "inode"},
		{"inode overflows", tcpHeader + strings.Replace(row, "12345", "99999999999999999999", 1), "out of range"},
	}
	for _, tt := range inet {
		err := ParseInet([]byte(tt.in), binary.LittleEndian, func(*InetEntry) {})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	uhdr := "Num       RefCount Protocol Flags    Type St Inode Path\n"
	unixCases := []struct{ name, in, want string }{
		{"too few fields", uhdr + "0000000000000000: 00000002 00000000 00010000 0001 01\n", "6 fields"},
		{"bad flags", uhdr + "0000000000000000: 00000002 00000000 0001000G 0001 01 1\n", "flags"},
		{"bad type", uhdr + "0000000000000000: 00000002 00000000 00010000 00001 01 1\n", "type"},
		{"bad state", uhdr + "0000000000000000: 00000002 00000000 00010000 0001 x 1\n", "state"},
		{"bad inode", uhdr + "0000000000000000: 00000002 00000000 00010000 0001 01 -1\n", "inode"},
		{"slot without colon", uhdr + "0000000000000000 00000002 00000000 00010000 0001 01 1\n", "does not end in ':'"},
	}
	for _, tt := range unixCases {
		err := ParseUnix([]byte(tt.in), func(*UnixEntry) {})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("unix %s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// captured describes the sockets TestCapture (capture_linux_test.go)
// creates, for the fixture tests, which run on every OS, to find in the
// tables.
type captured struct {
	TCPListen  uint16 // TCP listener on 127.0.0.1
	TCPClient  uint16 // a client connected to it
	TCP6Listen uint16 // TCP listener on ::1 (0: no IPv6)
	UDPPort    uint16 // UDP bound on 127.0.0.1
	UnixPath   string // unix stream listener bound to a path; its name holds a space
	Abstract   string // unix dgram socket with this abstract name
}

func loadFixtures(t testing.TB) (map[string][]byte, captured) {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{"tcp", "tcp6", "udp", "unix"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	var info captured
	j, err := os.ReadFile(filepath.Join("testdata", "capture.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &info); err != nil {
		t.Fatal(err)
	}
	return files, info
}

// TestFixtures parses tables captured on a little-endian machine and finds
// the sockets the capture created.
func TestFixtures(t *testing.T) {
	files, info := loadFixtures(t)
	checkFixtures(t, files, info)
}

func checkFixtures(t *testing.T, files map[string][]byte, info captured) {
	t.Helper()
	lo := [16]byte{127, 0, 0, 1}
	var listen, client, udp, listen6 bool
	order := binary.ByteOrder(binary.LittleEndian)
	for _, name := range []string{"tcp", "udp", "tcp6"} {
		err := ParseInet(files[name], order, func(e *InetEntry) {
			switch {
			case name == "tcp" && e.State == 10 && e.Local == lo && e.LocalPort == info.TCPListen && e.Inode != 0:
				listen = true
			case name == "tcp" && e.State == 1 && e.LocalPort == info.TCPClient && e.RemotePort == info.TCPListen && e.Remote == lo:
				client = true
			case name == "udp" && e.State == 7 && e.Local == lo && e.LocalPort == info.UDPPort:
				udp = true
			case name == "tcp6" && e.State == 10 && netip.AddrFrom16(e.Local) == netip.IPv6Loopback() && e.LocalPort == info.TCP6Listen:
				listen6 = true
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !listen || !client || !udp || (info.TCP6Listen != 0 && !listen6) {
		t.Errorf("found tcp listener %v, tcp client %v, udp %v, tcp6 listener %v", listen, client, udp, listen6)
	}
	var path, abstract bool
	err := ParseUnix(files["unix"], func(e *UnixEntry) {
		switch string(e.Path) {
		case info.UnixPath:
			path = e.Flags&AcceptCon != 0 && e.Type == 1
		case "@" + info.Abstract:
			abstract = e.Type == 2
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !path || !abstract {
		t.Errorf("found unix listener %q %v, abstract dgram %v", info.UnixPath, path, abstract)
	}
}

func FuzzParseInet(f *testing.F) {
	files, _ := loadFixtures(f)
	f.Add(files["tcp"])
	f.Add(files["tcp6"])
	f.Add([]byte(tcpHeader + "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := ParseInet(b, binary.LittleEndian, func(*InetEntry) { n++ })
		if err == nil && n > strings.Count(string(b), "\n") {
			t.Fatalf("%d entries from %d lines", n, strings.Count(string(b), "\n"))
		}
	})
}

func FuzzParseUnix(f *testing.F) {
	files, _ := loadFixtures(f)
	f.Add(files["unix"])
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ParseUnix(b, func(e *UnixEntry) {
			if len(e.Path) > len(b) {
				t.Fatalf("path of %d bytes from %d", len(e.Path), len(b))
			}
		})
	})
}
