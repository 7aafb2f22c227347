package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/leakcheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeLife is a process of a tree seen at samples from..to, its fds at
// each sample given by fds(i).
func fakeLife(pid, ppid int, name string, from, to int, fds func(i int) int) *life {
	l := &life{member: member{id: procID{pid: pid, start: uint64(pid)}, ppid: ppid, name: name, command: name},
		first: from, lastSeen: to, counts: &series.Series{}, own: map[string]bool{}}
	for i := from; i <= to; i++ {
		l.counts.Add(i, t0.Add(time.Duration(i)*100*time.Millisecond), series.Counts{"fds": fds(i), "fds/file": fds(i), "threads": 1, "threads/" + name: 1})
	}
	return l
}

// Judging a tree of 40 samples whose warm-up ended at sample 8: what is
// judged, what is not and why, and how the table says it.
func TestTreeJudged(t *testing.T) {
	flat := func(int) int { return 5 }
	grows := func(i int) int { return 5 + i }
	tr := newTree(100)
	add := func(l *life) *life { tr.lives[l.id] = l; return l }
	add(fakeLife(100, 0, "sh", 0, 39, flat))
	add(fakeLife(101, 100, "server", 0, 39, grows))              // there from the start, grows: a leak
	add(fakeLife(102, 100, "worker-1", 30, 39, grows))           // appeared late, grows while it works: too young
	add(fakeLife(103, 100, "worker-2", 10, 39, flat))            // appeared during the watch, lived long, flat
	add(fakeLife(104, 100, "worker-3", 12, 39, func(i int) int { // its start-up: it grows in its first half only
		return 5 + min(i-12, 6)
	}))
	add(fakeLife(105, 100, "worker-4", 12, 39, grows)) // lived long, grows all along: a leak
	for i := 0; i < 20; i++ {
		add(fakeLife(200+i, 100, fmt.Sprintf("job-%d", i), i, i+2, grows)) // came and went
	}
	denied := add(fakeLife(106, 100, "sudo", 0, 39, flat))
	denied.unread, denied.err = 3, fmt.Errorf("fdsnap: pid 106: permission denied: %w", os.ErrPermission)
	zombie := add(fakeLife(107, 100, "true", 20, 39, flat))
	zombie.zombie = true
	// Every process but the unreadable one and the zombie was read at the
	// end: it has a snapshot there (judging looks at no more than that).
	for _, l := range tr.lives {
		if l != denied && !l.zombie {
			l.snap = &leakcheck.Snapshot{}
		}
	}
	tr.listErrs["procs: the children of pid 106 (sudo): permission denied"] = 3

	j := judging{ownThreads: map[string]bool{}}
	res, v := tr.judgeTree(&j, 39, 8, true)
	var exceeded []string
	for _, e := range v.exceeded {
		exceeded = append(exceeded, e.Process+" "+e.Category)
	}
	assert.ElementsMatch(t, []string{
		"pid 101 (server) fds", "pid 101 (server) fds/file",
		"pid 105 (worker-4) fds", "pid 105 (worker-4) fds/file",
	}, exceeded, "the server and the long-lived growing worker; not the young worker, not the start-up, not the jobs that exited")

	why := map[int]string{}
	for _, pr := range res.procs {
		why[pr.life.id.pid] = pr.whyNot
	}
	assert.Equal(t, "appeared at sample 30 and lived less than half of the watch after the warm-up", why[102])
	assert.Empty(t, why[104], "judged, over the second half of its life: flat")
	assert.Contains(t, why[106], "not read at the end: permission denied: another user's process needs root or CAP_SYS_PTRACE")

	var b strings.Builder
	res.write(&b)
	out := b.String()
	t.Log("\n" + out)
	assert.Regexp(t, `(?m)^pid 101 \(server\) +100 +0–39 +13 → 44 +- +1 → 1 +exceeded$`, out)
	assert.Regexp(t, `(?m)^pid 106 \(sudo\) .*not judged: not read at 3 samples, the last among them: permission denied: another user's process needs root or CAP_SYS_PTRACE$`, out, "what cannot be read is said")
	assert.Contains(t, out, "exited during the watch: 20 × job-* (pids 200, 201, 202, 203, 204, 205, 206, 207, … and 12 more), read at up to 3 samples each\n", "jobs that came and went, one line")
	assert.Contains(t, out, "zombies (exited, never waited for): 1 × true (pids 107)\n")
	assert.Contains(t, out, "not read: procs: the children of pid 106 (sudo): permission denied (at 3 samples)\n")
	require.Len(t, res.procs, 7, "the processes alive at the end (not the zombie), the target first")
	assert.Equal(t, 100, res.procs[0].life.id.pid)

	// Found on a loaded machine: the target took 10 of 15 samples to be
	// ready, and children that appeared just after were still starting at
	// the end. The warm-up the target took is a child's too.
	short := newTree(100)
	for _, l := range []*life{fakeLife(100, 0, "forker", 0, 14, grows), fakeLife(101, 100, "sub", 11, 14, grows)} {
		l.snap = &leakcheck.Snapshot{}
		short.lives[l.id] = l
	}
	res, v = short.judgeTree(&j, 14, 10, true)
	for _, e := range v.exceeded {
		assert.Equal(t, "pid 100 (forker)", e.Process, "a child still starting is not judged")
	}
	assert.Contains(t, res.procs[1].whyNot, "too few samples after its warm-up of 4 samples")
}
