package main

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/leakcheck/go/internal/procs"
	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/leakcheck"
)

// With --tree a watch takes, at every sample, a full snapshot of the
// target and of each of its descendants (procs.Descendants). The series
// holds the totals over the tree under the usual keys (fds, fds/file,
// sockets/tcp CLOSE_WAIT, threads/worker, …) and the descendants under
// processes and processes/<command>; each process also has a series of
// its own, its life, from the sample it first appears at to the last one
// it is seen at. Processes come and go, and a total steps down when one
// exits and up when one starts, so the totals are shown, not judged:
// each process is judged on its own life, and the tree on its processes.

// procID is a process's identity: a pid is reused, a (pid, start) pair is
// not. The target's start is 0: it is the watch's.
type procID struct {
	pid   int
	start uint64
}

// member is one process of the tree at one look.
type member struct {
	id      procID
	ppid    int
	name    string // the kernel's comm
	command string
	zombie  bool
	snap    *leakcheck.Snapshot // nil for a zombie, or one that could not be read
	err     error               // why it could not be read
}

func (m member) String() string { return fmt.Sprintf("pid %d (%s)", m.id.pid, m.name) }

// life is one process of the tree over the samples it was seen at.
type life struct {
	member                  // as last seen
	first    int            // the sample it was first seen at
	lastSeen int            // and last seen at
	counts   *series.Series // its own counts, at the samples it was read at (no processes keys: the tree's)
	own      map[string]bool
	// Its first two full snapshots: the base of one that appeared after
	// the watch's base (the second, when there is one before the last
	// look: the first may catch it starting).
	firstAt, secondAt look
	unread            int // samples at which it was seen but could not be read
}

// gone is processes of one name that exited during the watch, or were
// zombies at its end: one line of the table, however many.
type gone struct {
	name      string
	pids      []int // the first few
	count     int
	most      int // samples the longest-lived was read at
	neverRead int // exited before a snapshot of them could be taken
}

// maxPids is how many pids a collapsed line names.
const maxPids = 8

func (g *gone) add(l *life) {
	g.count++
	if len(g.pids) < maxPids {
		g.pids = append(g.pids, l.id.pid)
	}
	g.most = max(g.most, l.counts.Len())
	if l.counts.Len() == 0 {
		g.neverRead++
	}
}

func (g *gone) pidList() string {
	var parts []string
	for _, p := range g.pids {
		parts = append(parts, fmt.Sprint(p))
	}
	s := strings.Join(parts, ", ")
	if g.count > len(g.pids) {
		s += fmt.Sprintf(", … and %d more", g.count-len(g.pids))
	}
	return s
}

// tree is what a --tree watch knows of the processes of the tree.
type tree struct {
	root   int
	lives  map[procID]*life
	exited map[string]*gone // by family of the name
	// listErrs are the branches of the tree that could not be listed
	// (procs.Descendants), each with the number of samples it failed at.
	listErrs map[string]int
}

func newTree(root int) *tree {
	return &tree{root: root, lives: map[procID]*life{}, exited: map[string]*gone{}, listErrs: map[string]int{}}
}

// sample takes a full snapshot of every descendant of the target, whose
// own snapshot is rootSnap, records each one's counts in its life, and
// returns the processes of the tree (the target first) and the totals over
// the tree.
func (t *tree) sample(i int, now time.Time, elapsed time.Duration, rootName string, rootSnap *leakcheck.Snapshot) ([]member, series.Counts) {
	desc, err := procs.Descendants(t.root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.listErrs[err.Error()]++ // a branch that cannot be listed; the rest is
	}
	members := []member{{id: procID{pid: t.root}, name: rootName, snap: rootSnap}}
	totals := series.Counts{series.Processes: 0}
	for _, d := range desc {
		m := member{id: procID{d.PID, d.Start}, ppid: d.PPID, name: d.Comm, command: d.Command(), zombie: d.Zombie()}
		totals[series.Processes]++
		totals[familyKey(series.Processes+"/"+d.Category())]++ // bounded: a compiler's command line is thousands of characters
		if !m.zombie {
			m.snap, m.err = leakcheck.Take(leakcheck.WithPID(d.PID), watched)
			if m.err != nil && errors.Is(m.err, os.ErrNotExist) {
				continue // exited as it was read: not seen at this sample
			}
		}
		members = append(members, m)
	}
	for _, m := range members {
		l := t.lives[m.id]
		if l == nil {
			l = &life{first: i, counts: &series.Series{Target: m.String()}, own: map[string]bool{}}
			t.lives[m.id] = l
		}
		l.member, l.lastSeen = m, i
		if m.snap == nil {
			if !m.zombie {
				l.unread++
			}
			continue
		}
		c := series.Counts{}
		for k, n := range familyCounts(countsOf(m.snap)) {
			if res, _, _ := strings.Cut(k, "/"); res != series.Processes {
				c[k] = n
				totals[k] += n
			}
		}
		l.counts.Add(i, now, c)
		for _, n := range threads.OwnNames(m.id.pid) {
			l.own[familyKey(series.Threads+"/"+n)] = true
		}
		switch {
		case l.firstAt.snap == nil:
			l.firstAt = look{sample: i, at: elapsed, snap: m.snap}
		case l.secondAt.snap == nil:
			l.secondAt = look{sample: i, at: elapsed, snap: m.snap}
		}
	}
	// A process not seen at this sample nor at the one before has exited
	// before whichever sample ends the watch (only the last may be
	// dropped): its life becomes a count of its name.
	for id, l := range t.lives {
		if l.lastSeen < i-1 {
			t.retire(l)
			delete(t.lives, id)
		}
	}
	return members, totals
}

func (t *tree) retire(l *life) {
	fam := threads.Family(l.name)
	g := t.exited[fam]
	if g == nil {
		g = &gone{name: fam}
		t.exited[fam] = g
	}
	g.add(l)
}

// dropLast forgets sample i, the last, of a target that exited.
func (t *tree) dropLast(i int) {
	for id, l := range t.lives {
		if l.first == i {
			delete(t.lives, id)
			continue
		}
		if l.secondAt.sample == i {
			l.secondAt = look{}
		}
		if n := l.counts.Len(); n > 0 && l.counts.Samples[n-1].Iteration == i {
			l.counts.Samples = l.counts.Samples[:n-1]
		}
		if l.lastSeen == i {
			l.lastSeen = i - 1
		}
	}
}

// A process's part in the result.
type procResult struct {
	life      *life
	state     string // "alive", "zombie", "not read", "exited"
	judged    bool
	whyNot    string // why it was not judged
	skip      int    // its samples in the warm-up
	stats     []series.Stats
	exceeded  bool
	report    *leakcheck.Report // what it holds at the last look that it did not at its base
	base      look
	bornAfter bool // its base is its first snapshot: it appeared after the watch's base
	noReport  string
}

// treeResult is what a --tree watch found.
type treeResult struct {
	procs    []*procResult // every process seen at the end, the target first, then by pid
	exited   []*gone       // by name
	zombies  []*gone
	listErrs []string
}

// judgeTree judges each process of the tree alive at sample end on its own
// life, and returns their results and verdicts. wEnd is the first sample
// after the watch's warm-up. A process there from the first sample leaves
// out the samples of the warm-up, as the target does. One that appeared
// during the watch started then, and nothing says when its start-up ended
// (a loaded machine stretches it over many samples): it leaves out the
// first half of its samples, and at least as many as the watch's own
// warm-up took (the target's start-up is this machine's measure of one,
// now), and is judged only once it has lived through
// half of the watch after the warm-up, so that a worker that comes and
// goes is not called a leak for what it holds while it works. A process is
// judged when it is alive at the end and was read there: one that exited
// gave back what it held (the kernel closes every descriptor of a process
// that exits), and its disappearance takes nothing from the others, since
// none is judged on the totals.
func (t *tree) judgeTree(j *judging, end, wEnd int, judged bool) (*treeResult, verdict) {
	res := &treeResult{}
	var v verdict
	zombies := map[string]*gone{}
	ids := slices.SortedFunc(maps.Keys(t.lives), func(a, b procID) int {
		if (a.pid == t.root) != (b.pid == t.root) {
			if a.pid == t.root {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.pid, b.pid), cmp.Compare(a.start, b.start))
	})
	exited := maps.Clone(t.exited)
	for fam, g := range exited {
		c := *g
		exited[fam] = &c
	}
	for _, id := range ids {
		l := t.lives[id]
		switch {
		case l.lastSeen < end:
			fam := threads.Family(l.name)
			if exited[fam] == nil {
				exited[fam] = &gone{name: fam}
			}
			exited[fam].add(l)
			continue
		case l.zombie:
			fam := threads.Family(l.name)
			if zombies[fam] == nil {
				zombies[fam] = &gone{name: fam}
			}
			zombies[fam].add(l)
			continue
		}
		pr := &procResult{life: l, state: "alive"}
		n := l.counts.Len()
		late := l.first > 0
		if late {
			pr.skip = min(n, max((n+1)/2, wEnd))
		} else {
			for _, s := range l.counts.Samples {
				if s.Iteration < wEnd {
					pr.skip++
				}
			}
		}
		half := (end - wEnd + 2) / 2 // half of the samples after the warm-up, rounded up
		switch {
		case l.snap == nil:
			pr.state = "not read"
			pr.whyNot = "not read at the end: " + readErr(l.err)
		case !judged:
			pr.whyNot = "the watch is not judged"
		case late && end-l.first+1 < half:
			pr.whyNot = fmt.Sprintf("appeared at sample %d and lived less than half of the watch after the warm-up", l.first)
		case n-pr.skip < 2:
			pr.whyNot = fmt.Sprintf("too few samples after its warm-up of %s", samples(pr.skip))
		default:
			pr.judged = true
		}
		share := skipShare(pr.skip, n)
		if n > 0 {
			pr.stats = l.counts.Summary(share)
		}
		if pr.judged {
			pj := *j
			pj.ownThreads = l.own
			pv := pj.judge(l.counts, share, func(k string) bool { return !isProcessesKey(k) })
			for k := range pv.exceeded {
				pv.exceeded[k].Process = l.member.String()
			}
			for k := range pv.notJudged {
				pv.notJudged[k].process = l.member.String()
			}
			pr.exceeded = len(pv.exceeded) > 0
			v.merge(pv)
		}
		res.procs = append(res.procs, pr)
	}
	for _, fam := range slices.Sorted(maps.Keys(exited)) {
		res.exited = append(res.exited, exited[fam])
	}
	for _, fam := range slices.Sorted(maps.Keys(zombies)) {
		res.zombies = append(res.zombies, zombies[fam])
	}
	for _, e := range slices.Sorted(maps.Keys(t.listErrs)) {
		res.listErrs = append(res.listErrs, fmt.Sprintf("%s (at %s)", e, samples(t.listErrs[e])))
	}
	return res, v
}

func isProcessesKey(k string) bool {
	res, _, _ := strings.Cut(k, "/")
	return res == series.Processes
}

// readErr says why a process could not be read.
func readErr(err error) string {
	if errors.Is(err, os.ErrPermission) {
		return "permission denied: another user's process needs root or CAP_SYS_PTRACE"
	}
	return err.Error()
}

// procDiff is what one process of the tree holds at the last look that it
// did not at its base.
type procDiff struct {
	report    *leakcheck.Report
	base      look
	bornAfter bool // its base is its own snapshot: it appeared after the watch's base
	noReport  string
}

// diffTree compares every process of the tree read at the last look with
// its base: its snapshot in the watch's base, or its own second snapshot
// if it appeared after it. While the target is alive the last look is a
// Find, as for a single process: so it is made before leakwatch stops the
// command (a process that is exiting has closed its descriptors).
func (w *watcher) diffTree(alive bool) map[procID]*procDiff {
	inBase := map[procID]*leakcheck.Snapshot{}
	for _, m := range w.base.tree {
		if m.snap != nil {
			inBase[m.id] = m.snap
		}
	}
	out := map[procID]*procDiff{}
	for _, m := range w.last.tree {
		l := w.tree.lives[m.id]
		if m.snap == nil || l == nil {
			continue // a zombie, or not read: said in the table
		}
		d := &procDiff{}
		out[m.id] = d
		// Its snapshot in the watch's base, if it was seen before it or
		// the base is the target's readiness: else its own start-up would
		// read as new.
		base, ok := inBase[m.id]
		d.base = w.base
		if !ok || l.first >= w.base.sample && w.base.sample > 0 && !w.readiness() {
			d.base, d.bornAfter = l.firstAt, true
			if s := l.secondAt; s.snap != nil && s.sample < w.last.sample {
				d.base = s
			}
			base = d.base.snap
		}
		if d.base.snap == nil || d.base.sample >= w.last.sample {
			d.noReport = fmt.Sprintf("appeared at sample %d, the last look", l.first)
			continue
		}
		var r *leakcheck.Report
		var err error
		if alive {
			r, err = leakcheck.Find(base, leakcheck.WithPID(m.id.pid), watched, leakcheck.WithTimeout(0))
		}
		if !alive || err != nil {
			r, err = leakcheck.Compare(base, m.snap, watched)
		}
		if err != nil {
			d.noReport = err.Error()
			continue
		}
		r.Waited = 0
		r.Target = m.String()
		d.report = familyReport(r)
	}
	return out
}

// attach gives each process its diff.
func (r *treeResult) attach(diffs map[procID]*procDiff) {
	for _, pr := range r.procs {
		d := diffs[pr.life.id]
		if d == nil {
			pr.noReport = "not read at the last look"
			continue
		}
		pr.report, pr.base, pr.bornAfter, pr.noReport = d.report, d.base, d.bornAfter, d.noReport
	}
}

// maxRows is how many processes of one name the table shows, besides
// those that exceeded a threshold.
const maxRows = 8

// writeTree writes the processes of the tree, one line each (those of one
// name past maxRows, unless they exceeded, in one line), then those that
// exited during the watch and the zombies, one line per name:
//
//	process                    parent  samples  fds      sockets  threads
//	pid 4242 (sh)                      0–30     3 → 3    0 → 0    1 → 1
//	pid 4244 (leakwatch.test)  4243    1–30     11 → 41  1 → 31   6 → 6    exceeded
//	exited during the watch: 12 × leakwatch.test (pids 4250, 4251, …), read at up to 3 samples each
func (r *treeResult) write(b *strings.Builder) {
	rows := [][]string{{"process", "parent", "samples", "fds", "sockets", "threads", ""}}
	shown := map[string]int{}
	hidden := map[string]int{}
	var hiddenOrder []string
	for _, pr := range r.procs {
		fam := threads.Family(pr.life.name)
		if shown[fam] >= maxRows && !pr.exceeded {
			if hidden[fam] == 0 {
				hiddenOrder = append(hiddenOrder, fam)
			}
			hidden[fam]++
			continue
		}
		shown[fam]++
		parent := "" // the target's is not in the tree
		if pr.life.ppid != 0 {
			parent = fmt.Sprint(pr.life.ppid)
		}
		row := []string{pr.life.member.String(), parent, fmt.Sprintf("%d–%d", pr.life.first, pr.life.lastSeen)}
		for _, res := range []string{series.FDs, series.Sockets, series.Threads} {
			cell := "-"
			for _, st := range pr.stats {
				if st.Key == res {
					cell = fmt.Sprintf("%d → %d", st.Start, st.End)
				}
			}
			row = append(row, cell)
		}
		note := ""
		switch {
		case pr.exceeded:
			note = "exceeded"
		case !pr.judged:
			note = "not judged: " + pr.whyNot
		}
		if pr.state == "not read" {
			note = fmt.Sprintf("not judged: not read at %s, the last among them: %s", samples(pr.life.unread), readErr(pr.life.err))
		} else if pr.life.unread > 0 {
			note = strings.TrimPrefix(note+fmt.Sprintf("; not read at %s: %s", samples(pr.life.unread), readErr(pr.life.err)), "; ")
		}
		rows = append(rows, append(row, note))
	}
	writeRows(b, rows)
	for _, fam := range hiddenOrder {
		fmt.Fprintf(b, "… and %d more %s, none over its threshold\n", hidden[fam], fam)
	}
	for _, g := range r.exited {
		fmt.Fprintf(b, "exited during the watch: %d × %s (pids %s), read at up to %s each", g.count, g.name, g.pidList(), samples(g.most))
		if g.neverRead > 0 {
			fmt.Fprintf(b, "; %d exited before they could be read", g.neverRead)
		}
		b.WriteString("\n")
	}
	for _, g := range r.zombies {
		fmt.Fprintf(b, "zombies (exited, never waited for): %d × %s (pids %s)\n", g.count, g.name, g.pidList())
	}
	for _, e := range r.listErrs {
		b.WriteString("not read: " + e + "\n")
	}
}

// writeRows writes rows with aligned columns, the first left-aligned.
func writeRows(b *strings.Builder, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(cell + strings.Repeat(" ", width[i]-len([]rune(cell))))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// writeDiff writes what each process of the tree holds at the last look
// that it did not at its base: a report for each one with something new,
// then one line naming those with nothing.
func (r *treeResult) writeDiff(b *strings.Builder) {
	var clean, none []string
	for _, pr := range r.procs {
		switch {
		case pr.report == nil:
			none = append(none, fmt.Sprintf("%s: %s", pr.life.member, pr.noReport))
		case len(pr.report.Categories) == 0 && len(pr.report.Incomplete) == 0:
			clean = append(clean, pr.life.member.String())
		default:
			if pr.bornAfter {
				fmt.Fprintf(b, "%s appeared at sample %d, not before the base: compared with its own snapshot at %v, sample %d\n", pr.life.member, pr.life.first, pr.base.at.Round(time.Millisecond), pr.base.sample)
			}
			b.WriteString(pr.report.String() + "\n")
		}
	}
	if len(clean) > 0 {
		if len(clean) > maxPids {
			clean = append(clean[:maxPids], fmt.Sprintf("… and %d more", len(clean)-maxPids))
		}
		b.WriteString("leakcheck: no leaks in " + strings.Join(clean, ", ") + "\n")
	}
	for _, n := range none {
		b.WriteString("no diff: " + n + "\n")
	}
}
