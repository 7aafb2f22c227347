package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/leakcheck"
	"github.com/leakcheck/go/sockstate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validSnapshot is a small snapshot file as leakwatch snapshot writes it.
const validSnapshot = `{"schema":"leakwatch.snapshot/v1","pid":5,"name":"server","time":"2025-01-02T15:04:05Z",
 "counts":{"fds":1,"fds/file":1,"sockets":1,"sockets/tcp LISTEN":1,"threads":2,"threads/server":1,"threads/worker-1":1},
 "fds":[{"num":3,"kind":"file","target":"/data/x"},{"num":4,"kind":"socket","target":"socket:[9]","ino":9}],
 "sockets":[{"inode":9,"fd":4,"proto":"tcp","state":"LISTEN","local":"127.0.0.1:80","recv_q":0,"send_q":0,"uid":0}],
 "threads":[{"tid":5,"name":"server"},{"tid":6,"name":"worker-1"}],
 "own_names":["server"]}`

func TestReadSnapshot(t *testing.T) {
	f, fds, socks, err := readSnapshot(strings.NewReader(validSnapshot + "\n"))
	require.NoError(t, err, "a trailing newline is not trailing data")
	assert.Equal(t, 5, f.PID)
	assert.Equal(t, []string{"server"}, f.OwnNames)
	assert.Equal(t, "fd 3 file /data/x", fds.FDs[0].String(), "sorted by number")
	assert.Equal(t, "fd 4 tcp 127.0.0.1:80 LISTEN", socks.Sockets[0].String())

	_, fds, socks, err = readSnapshot(strings.NewReader(`{"schema":"leakwatch.snapshot/v1","pid":5,"time":"2025-01-02T15:04:05Z",
		"counts":{"fds":1,"fds/deleted file":1,"sockets":1,"sockets/tcp6 CLOSE_WAIT":1,"threads":0},
		"fds":[{"num":4,"kind":"deleted file","target":"/x (deleted)"},{"num":3,"kind":"socket","target":"socket:[9]","ino":9}],
		"sockets":[{"inode":9,"fd":3,"proto":"tcp6","state":"CLOSE_WAIT","local":"[::1]:80","remote":"[::1]:5000"}],
		"threads":[]}`))
	require.NoError(t, err, "a file without own_names (written before them) still reads")
	assert.Equal(t, "fd 3 socket:[9]", fds.FDs[0].String())
	assert.Equal(t, "fd 3 tcp6 [::1]:80 → [::1]:5000 CLOSE_WAIT", socks.Sockets[0].String())
}

// diff validates its input strictly: each case is a file leakwatch
// snapshot could not have written.
func TestReadSnapshotRejects(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(validSnapshot, old) {
			panic("no " + old + " in the valid snapshot")
		}
		return strings.Replace(validSnapshot, old, new, 1)
	}
	for _, tc := range []struct{ in, want, why string }{
		{validSnapshot + "x", "trailing data after the snapshot, which ends at byte", "garbage after the object"},
		{validSnapshot + validSnapshot, "trailing data", "two snapshots in one file"},
		{validSnapshot + "]", "trailing data", "a stray bracket"},
		{edit(`{"num":4,`, `{"num":3,`), "fd 3 is listed twice", "a descriptor number twice"},
		{edit(`{"num":3,`, `{"num":-3,`), "fd -3: descriptor numbers are never negative", "a negative descriptor"},
		{edit(`{"tid":6,`, `{"tid":5,`), "thread 5 is listed twice", "a thread id twice"},
		{edit(`{"tid":6,`, `{"tid":-6,`), "thread -6: thread ids are positive", "a negative thread id"},
		{edit(`"uid":0}]`, `"uid":0},{"inode":9,"fd":-1,"proto":"tcp","state":"LISTEN"}]`), "socket 9 is listed twice", "a socket inode twice"},
		{edit(`"inode":9,"fd":4`, `"inode":9,"fd":3`), "socket 9: its fd 3 is not a descriptor of that socket", "a socket naming a file's descriptor"},
		{edit(`"inode":9,"fd":4`, `"inode":9,"fd":7`), "socket 9: its fd 7 is not a descriptor", "a socket naming a descriptor not listed"},
		{edit(`"inode":9,"fd":4`, `"inode":9,"fd":-2`), "fd -2: want a descriptor number, or -1 for none", "a socket's fd below -1"},
		{edit(`"inode":9,`, `"inode":0,`), "socket with fd 4: no inode", "a socket without an inode"},
		{edit(`"target":"socket:[9]","ino":9`, `"target":"socket:[9]"`), "fd 4: a socket without an inode", "a socket descriptor without an inode"},
		{edit(`"fds/file":1`, `"fds/file":2`), `counts: "fds/file" is 2, but the fds list holds 1`, "a count the list contradicts"},
		{edit(`"threads":2,`, `"threads":3,`), `counts: "threads" is 3, but the threads list holds 2`, "a total the list contradicts"},
		{edit(`"threads/server":1`, `"threads/server":1,"threads/ghost":1`), `counts: "threads/ghost" is 1, but the threads list holds 0`, "a category no list holds"},
		{edit(`"sockets":1,`, `"sockets":-1,`), `counts: "sockets" is -1`, "a negative count"},
		{edit(`"pid":5,`, `"pid":5,"extra":1,`), `unknown field "extra"`, "a field snapshots do not have"},
		{edit(`"threads":[{"tid":5,"name":"server"},{"tid":6,"name":"worker-1"}],`, ``), `no "threads" list`, "a missing list would read as empty"},
		{edit(`"time":"2025-01-02T15:04:05Z",`, ``), `no "time"`, "no time"},
		{edit(`"counts":{`, `"counted":{`), `unknown field "counted"`, "counts misspelt"},
		{edit(`"schema":"leakwatch.snapshot/v1"`, `"schema":"x"`), `schema "x"`, "another schema"},
		{edit(`"pid":5`, `"pid":0`), "pid 0", "no process"},
		{edit(`"kind":"file"`, `"kind":"wormhole"`), `unknown kind "wormhole"`, "an unknown kind"},
		{edit(`"state":"LISTEN"`, `"state":"NAPPING"`), `unknown state "NAPPING"`, "an unknown state"},
		{edit(`"proto":"tcp"`, `"proto":"ipx"`), `unknown protocol "ipx"`, "an unknown protocol"},
		{edit(`"local":"127.0.0.1:80"`, `"local":"nowhere"`), "socket 9", "an address that does not parse"},
		{`{"schema":`, "unexpected EOF", "truncated"},
	} {
		_, _, _, err := readSnapshot(strings.NewReader(tc.in))
		assert.ErrorContains(t, err, tc.want, tc.why)
	}
}

func TestDiffRejectsMalformedFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(validSnapshot), 0o600))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(validSnapshot+`{"more":1}`), 0o600))
	later := filepath.Join(dir, "later.json")
	require.NoError(t, os.WriteFile(later, []byte(strings.Replace(validSnapshot, "15:04:05Z", "15:05:05Z", 1)), 0o600))

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", good, bad}, "leakwatch: diff: " + bad + ": trailing data after the snapshot"},
		{[]string{"diff", later, good}, "was taken before " + later + " (2025-01-02T15:05:05Z): give the earlier snapshot first"},
	} {
		status, out, errOut := leakwatch(t, tc.args...)
		assert.Equal(t, exitUsage, status, tc.args)
		assert.Contains(t, errOut, tc.want)
		assert.Empty(t, out)
	}
	status, _, _ := leakwatch(t, "diff", good, later)
	assert.Equal(t, exitOK, status, "the valid pair in order: nothing new")
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add([]byte(validSnapshot))
	f.Add([]byte(`{"schema":"leakwatch.snapshot/v1","pid":1,"time":"2025-01-02T15:04:05Z","counts":{"fds":0,"sockets":0,"threads":0},"fds":[],"sockets":[],"threads":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, fds, socks, err := readSnapshot(bytes.NewReader(in))
		if err != nil {
			return
		}
		// Whatever reads must diff against itself without panicking, and
		// find nothing new.
		r, err := diffReport(a, a, [2]*fdsnap.Snapshot{fds, fds}, [2]*sockstate.Snapshot{socks, socks})
		if err != nil {
			t.Fatalf("a snapshot does not compare with itself: %v", err)
		}
		if len(r.Categories) != 0 {
			t.Fatalf("a snapshot differs from itself: %s", r)
		}
	})
}

// v2 files hold the children: read strictly, and compared by pid and
// start time, so a pid reused by a new child is new.
func TestSnapshotProcesses(t *testing.T) {
	file := func(kids string, counts string) string {
		return `{"schema":"leakwatch.snapshot/v2","pid":5,"name":"server","time":"2025-01-02T15:04:05Z",
 "counts":{"fds":0,"sockets":0,"threads":1,"threads/server":1,"processes":` + counts + `},
 "fds":[],"sockets":[],"threads":[{"tid":5,"name":"server"}],"processes":[` + kids + `]}`
	}
	sleep := func(pid, start int) string {
		return fmt.Sprintf(`{"pid":%d,"ppid":5,"state":"running","command":"sleep 20","start":%d}`, pid, start)
	}
	one := file(sleep(7, 100), `1,"processes/sleep 20":1`)
	f, _, _, err := readSnapshot(strings.NewReader(one))
	require.NoError(t, err)
	assert.Equal(t, []leakcheck.Process{{PID: 7, Command: "sleep 20", State: "running"}}, f.processes())

	for _, tc := range []struct{ in, err, why string }{
		{strings.Replace(one, `,"processes":[`+sleep(7, 100)+`]`, ``, 1), `no "processes" list`, "v2 has the list, [] when empty"},
		{strings.Replace(one, `"leakwatch.snapshot/v2"`, `"leakwatch.snapshot/v1"`, 1), `a "processes" list in a v1 file`, "v1 had none"},
		{file(sleep(7, 100)+","+sleep(7, 100), `2,"processes/sleep 20":2`), "process 7 is listed twice", "one pid, one child"},
		{file(sleep(-1, 100), `1,"processes/sleep 20":1`), "process -1: process ids are positive", "no such pid"},
		{file(sleep(7, 100), `2,"processes/sleep 20":1`), `counts: "processes" is 2, but the processes list holds 1`, "counts the list contradicts"},
	} {
		_, _, _, err := readSnapshot(strings.NewReader(tc.in))
		assert.ErrorContains(t, err, tc.err, tc.why)
	}

	diff := func(a, b string) (int, string) {
		dir := t.TempDir()
		pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
		require.NoError(t, os.WriteFile(pa, []byte(a), 0o600))
		require.NoError(t, os.WriteFile(pb, []byte(strings.Replace(b, "15:04:05Z", "15:04:06Z", 1)), 0o600))
		status, out, _ := leakwatch(t, "diff", pa, pb)
		return status, out
	}
	status, out := diff(one, one)
	assert.Equal(t, exitOK, status, "the same child, by pid and start")
	assert.Contains(t, out, "leakcheck: no leaks in pid 5")
	status, out = diff(one, file(sleep(7, 200), `1,"processes/sleep 20":1`))
	assert.Equal(t, exitGrowth, status, "pid 7 exited and a new child got its pid: a swap the count hides")
	assert.Contains(t, out, "child process 7 sleep 20 (running)")
	assert.Contains(t, out, "exceeded: 1 new processes/sleep *, more than --tolerance 0", "by family")
	status, out = diff(one, file(sleep(7, 100)+","+sleep(9, 300), `2,"processes/sleep 20":2`))
	assert.Equal(t, exitGrowth, status)
	assert.Contains(t, out, "child process 9 sleep 20 (running)")
	assert.NotContains(t, out, "child process 7 ")
}
