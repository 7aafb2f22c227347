package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These watch trees of real processes: the test binary as a shell's child
// or grandchild. Synchronisation is by handshake: the port a process
// listens on (--ready-port), and a line a child prints after so many steps
// (watchUntil interrupts leakwatch then, while every process still runs).

// shParent is a shell that runs the test binary as a parent, which runs
// it again as its child in the role kid: the kid is the shell's grandchild.
func shParent(t *testing.T, kid, port string) []string {
	t.Helper()
	setChild(t, "parent", port, 3000)
	t.Setenv(kidEnv, kid)
	t.Setenv(sayEnv, strconv.Itoa(steps))
	return []string{"--", "sh", "-c", `"$0"; echo "parent exited with $?"`, os.Args[0]}
}

// procOf returns the process of the tree named pid in j.
func procOf(t *testing.T, j watchJSON, pid int) jsonProc {
	t.Helper()
	require.NotNil(t, j.Tree)
	for _, p := range j.Tree.Processes {
		if p.PID == pid {
			return p
		}
	}
	require.Failf(t, "no such process in the tree", "pid %d: %+v", pid, j.Tree.Processes)
	return jsonProc{}
}

// A shell forks a parent that forks a grandchild that leaks a socket in
// CLOSE_WAIT and a deleted file every step. Under --tree the grandchild is
// caught, and the diff names it: its pid and name. Without --tree the
// shell itself holds nothing new: its fds are flat, and its one child (the
// parent) shows in the processes category, flat too.
func TestWatchTreeGrandchildLeak(t *testing.T) {
	t.Run("--tree", func(t *testing.T) {
		port := freePort(t)
		jsonFile := filepath.Join(t.TempDir(), "w.json")
		args := append([]string{"--tree", "--interval=20ms", "--ready-port", port, "--json", jsonFile}, shParent(t, "leaky", port)...)
		status, out := watchUntil(t, "stepped", nil, args...)
		require.Equal(t, exitGrowth, status)

		m := regexp.MustCompile(`(?m)^exceeded: pid (\d+) \(leakwatch\.test\): sockets/tcp CLOSE_WAIT grew [0-9.]+ per sample`).FindStringSubmatch(out)
		require.NotNil(t, m, "the grandchild's own category exceeded, named by its process")
		culprit, _ := strconv.Atoi(m[1])
		assert.Regexp(t, fmt.Sprintf(`(?m)^exceeded: pid %d \(leakwatch\.test\): fds/deleted file grew`, culprit), out)
		assert.NotRegexp(t, `(?m)^exceeded: (sockets|fds)`, out, "the totals over the tree are shown, not judged")
		// The diff: the grandchild's report, in leakcheck's format, names it.
		report := regexp.MustCompile(fmt.Sprintf(`(?s)leakcheck: \d+ leaked by pid %d \(leakwatch\.test\): \d+ fds, \d+ sockets[^\n]*\n.*`, culprit)).FindString(out)
		require.NotEmpty(t, report, "a report for the grandchild")
		assert.Regexp(t, closeWaitItem, report)
		assert.Regexp(t, deletedItem, report)
		assert.Regexp(t, `leakcheck: no leaks in pid \d+ \(sh\), pid \d+ \(leakwatch\.test\)\n`, out, "the shell and the parent hold nothing new")
		assert.Regexp(t, fmt.Sprintf(`(?m)^pid %d \(leakwatch\.test\) +\d+ +\d+–\d+ +\d+ → \d+ +\d+ → \d+ +\d+ → \d+ +exceeded$`, culprit), out, "its row in the table")

		// Which process it is: the shell's grandchild.
		j := readWatchJSON(t, jsonFile)
		assert.Equal(t, exitGrowth, j.Exit)
		sh := j.Tree.Processes[0]
		assert.Equal(t, "sh", sh.Name, "the target first")
		grandchild := procOf(t, j, culprit)
		parent := procOf(t, j, grandchild.PPID)
		assert.Equal(t, sh.PID, parent.PPID, "the culprit is the shell's grandchild")
		assert.Equal(t, "leakwatch.test", grandchild.Name)
		assert.True(t, grandchild.Judged)
		require.NotNil(t, grandchild.Diff)
		assert.Greater(t, grandchild.Diff.Counts["sockets/tcp CLOSE_WAIT"], 5)
		e, ok := exceededFor(j, "sockets/tcp CLOSE_WAIT", "slope")
		require.True(t, ok)
		assert.Equal(t, fmt.Sprintf("pid %d (leakwatch.test)", culprit), e.Process)
		require.NotNil(t, j.Diff)
		assert.Equal(t, grandchild.Diff.Counts["sockets/tcp CLOSE_WAIT"], j.Diff.Counts["sockets/tcp CLOSE_WAIT"], "the tree's diff sums its processes'")
	})
	t.Run("without --tree", func(t *testing.T) {
		// --ready-port would wait for the shell itself to listen, which it
		// never does: a share of the samples is the warm-up.
		jsonFile := filepath.Join(t.TempDir(), "w.json")
		args := append([]string{"--interval=20ms", "--json", jsonFile}, shParent(t, "leaky", "0")...)
		status, out := watchUntil(t, "stepped", nil, args...)
		assert.Equal(t, exitOK, status, "the shell's own fds and sockets are flat: the grandchild is not watched")
		assert.NotContains(t, out, "exceeded:")
		assert.Regexp(t, `(?m)^processes +1 +1 +1 +0\.000 +0\.00$`, out, "its one child, the parent, is visible")
		assert.Regexp(t, `(?m)^sockets +0 +0 +0 +`, out)
		assert.NotRegexp(t, closeWaitItem, out)
		j := readWatchJSON(t, jsonFile)
		assert.Nil(t, j.Tree)
	})
}

// The clean twin: a parent that starts short-lived workers one after the
// other and waits for each; every worker opens a file a step for three
// steps and exits. Workers come and go, each one growing while it lives:
// none is a leak, and the watch passes.
func TestWatchTreeWorkersComeAndGo(t *testing.T) {
	port := freePort(t)
	setChild(t, "spawner", port, 15)
	jsonFile := filepath.Join(t.TempDir(), "w.json")
	status, out, _ := leakwatch(t, "--tree", "--interval=20ms", "--ready-port", port, "--json", jsonFile, "--", os.Args[0])
	require.Equal(t, exitOK, status)
	assert.NotContains(t, out, "exceeded:")
	assert.Regexp(t, `(?m)^exited during the watch: \d+ × leakwatch\.test \(pids \d+`, out, "the workers that came and went, on one line")
	j := readWatchJSON(t, jsonFile)
	require.NotNil(t, j.Tree)
	require.NotEmpty(t, j.Tree.Exited)
	assert.GreaterOrEqual(t, j.Tree.Exited[0].Count, 10, "most of the fifteen workers were seen")
	for _, p := range j.Tree.Processes[1:] {
		assert.False(t, p.Judged, "a worker alive at the end is too young to judge: %+v", p)
	}
	assert.True(t, j.Tree.Processes[0].Judged, "the spawner itself is judged")
}

// A target that starts children that never exit fails on the processes
// category, with --tree or without, and the diff names the children.
func TestWatchProcessesGrow(t *testing.T) {
	for _, tree := range []bool{false, true} {
		t.Run(fmt.Sprintf("tree=%v", tree), func(t *testing.T) {
			jsonFile := filepath.Join(t.TempDir(), "w.json")
			args := []string{"--interval=20ms", "--json", jsonFile}
			if tree {
				args = append(args, "--tree")
			}
			status, out, _ := watchChild(t, "forker", steps, nil, args...)
			require.Equal(t, exitGrowth, status)
			assert.Regexp(t, `(?m)^exceeded: processes grew [0-9.]+ per sample`, out)
			assert.Regexp(t, `(?m)^exceeded: processes/\S*leakwatch\.test grew`, out, "by command")
			assert.Regexp(t, `(?m)^      (child process \d+|\d+ × )\S*leakwatch\.test \(running\)`, out, "the children, in the diff")
			j := readWatchJSON(t, jsonFile)
			_, ok := exceededFor(j, "processes", "slope")
			assert.True(t, ok)
			if tree {
				root := fmt.Sprintf("pid %d (leakwatch.test)", j.Tree.Processes[0].PID)
				for _, e := range j.Exceeded {
					// The forker holds a pipe and a pidfd per child: its
					// own fds grow too.
					assert.Contains(t, []string{"", root}, e.Process, "each child is flat on its own: %+v", e)
				}
				most := 0
				for _, sm := range j.Series.Samples {
					most = max(most, sm.Counts["processes"])
				}
				// (At the end they may be exiting already: the forker's
				// exit closed their standard input.)
				assert.Greater(t, most, 10, "the children are in the tree")
			}
		})
	}
}
