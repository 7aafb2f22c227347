package procnet

import (
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
)

var capture = flag.Bool("capture", false, "regenerate testdata/* from this process's /proc/self/net (see testdata/README.md)")

// TestCapture regenerates the fixtures with -capture; without it, it checks
// the live tables hold what the fixture tests look for.
func TestCapture(t *testing.T) {
	var info captured
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
	info.TCPListen = uint16(l.Addr().(*net.TCPAddr).Port)
	info.TCPClient = uint16(c.LocalAddr().(*net.TCPAddr).Port)
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer l6.Close()
		info.TCP6Listen = uint16(l6.Addr().(*net.TCPAddr).Port)
	}
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	info.UDPPort = uint16(u.LocalAddr().(*net.UDPAddr).Port)
	info.UnixPath = filepath.Join(t.TempDir(), "a b.sock")
	ul, err := net.Listen("unix", info.UnixPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	info.Abstract = "leakcheck-procnet-capture"
	ud, err := net.ListenPacket("unixgram", "@"+info.Abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer ud.Close()

	files := map[string][]byte{}
	for _, name := range []string{"tcp", "tcp6", "udp", "unix"} {
		b, err := os.ReadFile("/proc/self/net/" + name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	checkFixtures(t, files, info)
	if !*capture {
		return
	}
	j, _ := json.MarshalIndent(info, "", "\t")
	files["capture.json"] = j
	for name, b := range files {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
