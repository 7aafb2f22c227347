package leakcheck_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/leakcheck"
)

func TestCompareSnapshots(t *testing.T) {
	before, err := leakcheck.Take()
	require.NoError(t, err)
	require.NotNil(t, before.Sockets, "Take describes sockets")

	release := make(chan struct{})
	defer close(release)
	startBlocked(release)
	f, err := os.Create(filepath.Join(t.TempDir(), "segment.log"))
	require.NoError(t, err)
	defer f.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	after, err := leakcheck.Take()
	require.NoError(t, err)
	rep, err := leakcheck.Compare(before, after)
	require.NoError(t, err)
	counts := rep.Counts()
	assert.Equal(t, 1, counts["goroutines"], "%s", rep)
	assert.Equal(t, 1, counts["fds/file"])
	assert.Equal(t, 1, counts["sockets/tcp LISTEN"])
	assert.Contains(t, rep.String(), "tcp "+ln.Addr().String()+" LISTEN", "sockets are described from the stored snapshot")

	same, err := leakcheck.Compare(after, after)
	require.NoError(t, err)
	assert.False(t, same.Leaked(), "a snapshot holds nothing its twin lacks: %s", same)
}

// Snapshots built by hand (read back from a file, say) compare on what
// they hold.
func TestCompareBuiltSnapshots(t *testing.T) {
	a := &leakcheck.Snapshot{PID: 4242, FDs: &fdsnap.Snapshot{PID: 4242, FDs: []fdsnap.FD{
		{Num: 3, Kind: fdsnap.File, Target: "/data/a.log", Ino: 1},
	}}, Threads: []leakcheck.Thread{{TID: 4242, Name: "server"}}}
	b := &leakcheck.Snapshot{PID: 4242, FDs: &fdsnap.Snapshot{PID: 4242, FDs: []fdsnap.FD{
		{Num: 3, Kind: fdsnap.File, Target: "/data/a.log", Ino: 1},
		{Num: 4, Kind: fdsnap.DeletedFile, Target: "/data/b.log (deleted)", Ino: 2},
	}}, Threads: []leakcheck.Thread{{TID: 4242, Name: "server"}, {TID: 4250, Name: "rpc-proc"}}}
	rep, err := leakcheck.Compare(a, b)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"fds": 1, "fds/deleted file": 1, "threads": 1, "threads/rpc-proc": 1}, rep.Counts())
	assert.Equal(t, "pid 4242", rep.Target)

	_, err = leakcheck.Compare(a, &leakcheck.Snapshot{PID: 7})
	assert.ErrorContains(t, err, "the snapshots describe pid 4242 and pid 7")
	_, err = leakcheck.Compare(nil, a)
	assert.ErrorContains(t, err, "Compare needs two snapshots")
}
