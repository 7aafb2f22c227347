package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cyclesChild starts the test binary as a child that takes steps on
// request, and returns its pid and a function that takes n steps.
func cyclesChild(t *testing.T) (pid string, step func(what string, n int)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=cycles", portEnv+"=0", dirEnv+"="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	replies := bufio.NewScanner(stdout)
	require.True(t, replies.Scan())
	require.Equal(t, "ready", replies.Text())
	return strconv.Itoa(cmd.Process.Pid), func(what string, n int) {
		t.Helper()
		for range n {
			_, err := io.WriteString(stdin, what+"\n")
			require.NoError(t, err)
			require.True(t, replies.Scan())
			require.Equal(t, "ok", replies.Text())
		}
	}
}

func TestSnapshotDiff(t *testing.T) {
	pid, step := cyclesChild(t)
	dir := t.TempDir()
	snap := func(name string) string {
		path := filepath.Join(dir, name)
		status, _, _ := leakwatch(t, "snapshot", "-p", pid, "-o", path)
		require.Equal(t, exitOK, status)
		return path
	}

	step("clean", 1) // warm-up: one-time initialisation is not a leak
	before := snap("before.json")
	step("leak", 3)
	leaked := snap("leaked.json")
	step("clean", 5)
	after := snap("after.json")

	status, out, _ := leakwatch(t, "diff", before, leaked)
	assert.Equal(t, exitGrowth, status)
	assert.Regexp(t, `(?m)^  deleted file +\d+ +\d+ +\+3$`, out, "counts before and after")
	assert.Contains(t, out, "leakcheck: 6 leaked by pid "+pid+": 3 fds, 3 sockets")
	assert.Contains(t, out, "\n  deleted file (3):\n")
	assert.Contains(t, out, "\n  tcp CLOSE_WAIT (3):\n")
	assert.Regexp(t, closeWaitItem, out)
	assert.Regexp(t, deletedItem, out)
	assert.Contains(t, out, "exceeded: 3 new sockets/tcp CLOSE_WAIT, more than --tolerance 0")

	status, _, _ = leakwatch(t, "diff", "--tolerance", "3", before, leaked)
	assert.Equal(t, exitOK, status, "a tolerance of 3 lets 3 pass")
	status, out, _ = leakwatch(t, "diff", "--tolerance", "fds=3,sockets=2", before, leaked)
	assert.Equal(t, exitGrowth, status)
	assert.Contains(t, out, "exceeded: 3 new sockets, more than --tolerance 2")
	assert.NotContains(t, out, "new fds", "fds are within their tolerance")

	status, out, _ = leakwatch(t, "diff", leaked, after)
	assert.Equal(t, exitOK, status, "clean cycles add nothing")
	assert.Contains(t, out, "leakcheck: no leaks in pid "+pid)

	// Misuse.
	other := startChild(t, "clean")
	otherSnap := filepath.Join(dir, "other.json")
	status, _, _ = leakwatch(t, "snapshot", "-p", strconv.Itoa(other.Process.Pid), "-o", otherSnap)
	require.Equal(t, exitOK, status)
	status, _, errOut := leakwatch(t, "diff", before, otherSnap)
	assert.Equal(t, exitUsage, status)
	assert.Contains(t, errOut, "only compare within one process")
}

// diff judges threads as the library does: new threads that carry the
// process's own name are the Go runtime's and are counted as ignored; named
// threads are reported, numbered names by family.
func TestSnapshotDiffThreads(t *testing.T) {
	pid, step := cyclesChild(t)
	dir := t.TempDir()
	snap := func(name string) (string, snapshotFile) {
		path := filepath.Join(dir, name)
		status, _, _ := leakwatch(t, "snapshot", "-p", pid, "-o", path)
		require.Equal(t, exitOK, status)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var f snapshotFile
		require.NoError(t, json.Unmarshal(b, &f))
		return path, f
	}
	ownThreads := func(f snapshotFile) int {
		require.NotEmpty(t, f.OwnNames)
		n := 0
		for _, th := range f.Threads {
			if th.Name == f.OwnNames[0] || (len(f.OwnNames) > 1 && th.Name == f.OwnNames[1]) {
				n++
			}
		}
		return n
	}

	before, a := snap("before.json")
	step("runtime", 2)
	runtimeOnly, b := snap("runtime.json")
	require.Greater(t, ownThreads(b), ownThreads(a), "the runtime started threads of the process's name: the case is real")
	status, out, _ := leakwatch(t, "diff", before, runtimeOnly)
	assert.Equal(t, exitOK, status, "the runtime's own threads are not a leak")
	assert.Contains(t, out, "leakcheck: no leaks in pid "+pid+" (")
	assert.Regexp(t, `\(\d+ unnamed runtime threads ignored\)`, out, "and what was ignored is counted")

	step("named", 3)
	named, _ := snap("named.json")
	status, out, _ = leakwatch(t, "diff", runtimeOnly, named)
	assert.Equal(t, exitGrowth, status, "named threads that stay are a leak")
	assert.Contains(t, out, "\n  worker-* (3):\n", "one family, not worker-1, worker-2, worker-3")
	for i := 1; i <= 3; i++ {
		assert.Contains(t, out, " worker-"+strconv.Itoa(i)+"\n", "each thread keeps its own name among the items")
	}
	assert.Contains(t, out, "exceeded: 3 new threads/worker-*, more than --tolerance 0")
	assert.Regexp(t, `(?m)^  worker-\* +0 +3 +\+3$`, out, "the counts by family")
	assert.False(t, strings.Contains(out, "worker-1 "), "no row per numbered name")
}
