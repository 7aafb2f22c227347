package sockdiag

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// findListener dumps IPv4 TCP on c and reports whether a listener on port
// is among the sockets.
func findListener(t *testing.T, c *Conn, port uint16) bool {
	t.Helper()
	found := false
	err := c.DumpInet(AFInet, ProtoTCP, AllStates, func(s *InetSock) {
		if s.State == 10 && s.SrcPort == port && s.Inode != 0 {
			found = true
		}
	})
	require.NoError(t, err)
	return found
}

func TestConnDumps(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	path := filepath.Join(t.TempDir(), "conn.sock")
	ul, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ul.Close()

	c, err := Dial()
	require.NoError(t, err)
	defer c.Close()
	assert.True(t, findListener(t, c, port), "the listener is in an inet_diag dump")
	assert.True(t, findListener(t, c, port), "a second dump on the same Conn takes the next sequence number")

	found := false
	err = c.DumpUnix(AllStates, UnixShowName, func(s *UnixSock) {
		if s.State == 10 && strings.TrimRight(string(s.Name), "\x00") == path {
			found = true
		}
	})
	require.NoError(t, err)
	assert.True(t, found, "the unix listener on %s is in a unix_diag dump", path)
}

func TestDialIn(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()

	ns, err := os.Open("/proc/self/ns/net")
	require.NoError(t, err)
	defer ns.Close()
	c, err := DialIn(int(ns.Fd()))
	if errors.Is(err, unix.EPERM) {
		t.Skipf("setns needs CAP_SYS_ADMIN: %v", err)
	}
	require.NoError(t, err)
	defer c.Close()
	assert.True(t, findListener(t, c, uint16(l.Addr().(*net.TCPAddr).Port)), "a Conn opened in our own namespace sees our listener")

	f, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer f.Close()
	_, err = DialIn(int(f.Fd()))
	assert.ErrorIs(t, err, unix.EINVAL, "a descriptor that is not a namespace: setns refuses it")
}
