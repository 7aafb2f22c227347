package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/leakcheck"
	"github.com/leakcheck/go/sockstate"
)

// watchConfig is the watch command's flags.
type watchConfig struct {
	pid        int
	command    []string
	interval   time.Duration
	duration   time.Duration
	printEvery time.Duration
	warmup     float64
	readyAfter time.Duration
	readyPort  int
	judging    judging
	ignoreExit bool
	tree       bool
	jsonFile   string
	svgFile    string
}

// The resources a watch checks: goroutines exist only for the current
// process, and the heap of another process is not measured.
var watched = leakcheck.WithResources(leakcheck.FDs | leakcheck.Sockets | leakcheck.Threads | leakcheck.Processes)

func runWatch(args []string, stdout, stderr io.Writer) int {
	var cfg watchConfig
	fs := flag.NewFlagSet("leakwatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage+"\nwatch flags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.pid, "p", 0, "watch the running process `PID`")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "time between samples")
	fs.DurationVar(&cfg.duration, "duration", 0, "how long to watch; 0: until the process exits or leakwatch is interrupted")
	fs.DurationVar(&cfg.printEvery, "print-every", 10*time.Second, "when standard output is not a terminal, print a progress line this often; 0: never")
	fs.Float64Var(&cfg.warmup, "warmup", leakcheck.DefaultWarmup, "leading `share` of the samples left out of start, growth and slopes, and before the final diff's base")
	fs.DurationVar(&cfg.readyAfter, "ready-after", 0, "the warm-up ends this long after the watch starts, instead of after --warmup's share")
	fs.IntVar(&cfg.readyPort, "ready-port", 0, "the warm-up ends when the target listens on TCP `PORT`, instead of after --warmup's share")
	fs.Var(&cfg.judging.maxSlope, "max-slope", "fail when a category grows faster than this per second: `N`, or CATEGORY=N,... (sockets=0.1,fds/eventfd=0)")
	fs.Var(&cfg.judging.maxGrowth, "max-growth", "fail when a category's end minus start exceeds this: `N`, or CATEGORY=N,...")
	fs.BoolVar(&cfg.judging.reportOnly, "report-only", false, "report growth without judging it: exit 0 whatever grew")
	fs.BoolVar(&cfg.ignoreExit, "ignore-exit", false, "a command that crashes or exits non-zero does not change leakwatch's exit status")
	fs.BoolVar(&cfg.tree, "tree", false, "watch the target and all its descendants: totals over the tree, and each process judged on its own")
	fs.StringVar(&cfg.jsonFile, "json", "", "write the samples, summary and final diff as JSON to `FILE`")
	fs.StringVar(&cfg.svgFile, "svg", "", "write a line chart of the categories that grew most to `FILE`")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.command = fs.Args()
	if msg := cfg.check(set); msg != "" {
		return usageError(stderr, "%s", msg)
	}
	// Refuse early, before starting a command, where nothing can be read.
	if _, err := fdsnap.Count(); errors.Is(err, errors.ErrUnsupported) {
		return cannotRead(stderr, os.Getpid(), err)
	}
	// Output files are opened before watching, so a path that cannot be
	// written fails now and not after a long watch.
	outs, err := openOutputs(cfg.jsonFile, cfg.svgFile)
	if err != nil {
		fmt.Fprintf(stderr, "leakwatch: %v (checked before watching)\n", err)
		return exitUsage
	}
	defer outs.discard()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w := &watcher{cfg: cfg, stdout: stdout, stderr: stderr, stopSignals: stop, outs: outs, pid: cfg.pid}
	if len(cfg.command) > 0 {
		c, err := startCommand(cfg.command, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "leakwatch: starting %s: %v\n", cfg.command[0], err)
			return exitUsage
		}
		defer c.stop()
		w.cmd, w.pid = c, c.pid
	}
	return w.watch(ctx)
}

// check returns what is wrong with the flags, "" when nothing is; set
// holds the flags given.
func (cfg *watchConfig) check(set map[string]bool) string {
	j := &cfg.judging
	switch {
	case cfg.pid != 0 && len(cfg.command) > 0:
		return "give -p PID or a command after --, not both"
	case cfg.pid == 0 && len(cfg.command) == 0:
		return "nothing to watch: give -p PID, or a command after --"
	case cfg.pid != 0 && checkPID(cfg.pid) != nil:
		return checkPID(cfg.pid).Error()
	case cfg.interval <= 0:
		return fmt.Sprintf("--interval %v: want a positive duration such as 1s or 200ms", cfg.interval)
	case cfg.duration < 0:
		return fmt.Sprintf("--duration %v: want 0 (until the process exits) or a positive duration", cfg.duration)
	case cfg.printEvery < 0:
		return fmt.Sprintf("--print-every %v: want 0 (never) or a positive duration", cfg.printEvery)
	case series.CheckWarmup(cfg.warmup) != nil:
		return "--warmup: " + series.CheckWarmup(cfg.warmup).Error()
	case cfg.readyAfter < 0:
		return fmt.Sprintf("--ready-after %v: want a positive duration", cfg.readyAfter)
	case set["ready-port"] && (cfg.readyPort < 1 || cfg.readyPort > 65535):
		return fmt.Sprintf("--ready-port %d: want a TCP port, 1 to 65535", cfg.readyPort)
	case cfg.readyAfter > 0 && cfg.readyPort > 0:
		return "give --ready-after or --ready-port, not both: each says when the warm-up ends"
	case (cfg.readyAfter > 0 || cfg.readyPort > 0) && set["warmup"]:
		return "give --warmup or --ready-after/--ready-port, not both: each says when the warm-up ends"
	case cfg.readyAfter > 0 && cfg.duration > 0 && cfg.readyAfter >= cfg.duration:
		return fmt.Sprintf("--ready-after %v is not before --duration %v: nothing would be left to judge", cfg.readyAfter, cfg.duration)
	case j.reportOnly && (j.maxSlope.set() || j.maxGrowth.set()):
		return "--report-only judges nothing: drop it, or drop --max-slope and --max-growth"
	case cfg.ignoreExit && cfg.pid != 0:
		return "--ignore-exit is for a command leakwatch starts: a -p target's exit status goes to its own parent"
	}
	return ""
}

// watcher is one watch of one process.
type watcher struct {
	cfg            watchConfig
	stdout, stderr io.Writer
	stopSignals    func() // after the first Ctrl-C, a second one ends leakwatch at once
	outs           *outputs

	pid  int
	cmd  *command // nil for -p
	tree *tree    // with --tree

	series *series.Series
	last   look  // the last sample's snapshot
	prev   look  // the one before
	ready  *look // the first sample at which the target was ready
	bases  baseKeeper

	report   *leakcheck.Report // the last look compared with the base, thread groups by family
	base     look
	baseWhy  string // which snapshot the base is, for the summary
	lastAt   time.Duration
	noReport string        // why there is no report
	elapsed  time.Duration // when sampling stopped
	// With --tree, the diff of each process, by identity; nil without a
	// base to compare with.
	treeDiffs map[procID]*procDiff
}

// Why sampling stopped.
const (
	endDuration    = "duration"
	endExited      = "exited"
	endInterrupted = "interrupted"
)

func (w *watcher) watch(ctx context.Context) int {
	w.series = &series.Series{Target: fmt.Sprintf("pid %d", w.pid)}
	if w.cmd != nil {
		// Named now, so a command that exits before its first sample reads
		// like one that exits after it.
		w.series.Target += " (" + w.cmd.name + ")"
	}
	w.cfg.judging.ownThreads = map[string]bool{}
	if w.cfg.tree {
		w.tree = newTree(w.pid)
	}
	prog := newProgress(w.stdout, w.cfg.printEvery)
	ticker := time.NewTicker(w.cfg.interval)
	defer ticker.Stop()
	var exited <-chan struct{} // nil for -p: a process that is not ours is seen gone at a sample
	if w.cmd != nil {
		exited = w.cmd.exited
	}

	start := time.Now()
	ended := ""
	interrupted := false
	for i := 0; ; i++ {
		now := time.Now()
		elapsed := now.Sub(start)
		snap, err := leakcheck.Take(leakcheck.WithPID(w.pid), watched)
		if err != nil {
			if w.exitedDuring(err, i) {
				ended = endExited
				break
			}
			prog.done()
			return cannotRead(w.stderr, w.pid, err)
		}
		if i == 0 {
			w.first(snap)
		}
		w.noteOwnThreads()
		l := look{sample: i, at: elapsed, snap: snap}
		counts := familyCounts(countsOf(snap))
		if w.tree != nil {
			l.tree, counts = w.tree.sample(i, now, elapsed, w.targetName(), snap)
		}
		w.series.Add(i, now, counts)
		w.prev, w.last = w.last, l
		w.noteReady(w.last)
		if !w.readiness() {
			w.bases.add(w.last, w.series.WarmupSamples(w.cfg.warmup))
		}
		prog.update(w.series, elapsed)
		if interrupted {
			ended = endInterrupted
			break
		}
		if w.cfg.duration > 0 && elapsed >= w.cfg.duration {
			ended = endDuration
			break
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			interrupted = true // one more look while the target is still there
			w.stopSignals()
		case <-exited:
			ended = endExited
		}
		if ended != "" {
			break
		}
	}
	prog.done()
	w.elapsed = time.Since(start)
	if ended == endExited {
		w.dropLast()
	}
	w.diff(ended != endExited, start)
	if w.cmd != nil {
		w.cmd.stop()
	}
	return w.finish(ended)
}

// dropLast leaves out the last sample of a target that exited on its own:
// it may have caught the target shutting down, its descriptors closing and
// its threads ending (the kernel closes every descriptor as a process
// exits), which would read as a drop in the table and hide culprits from
// the diff.
func (w *watcher) dropLast() {
	n := w.series.Len()
	if n == 0 {
		return
	}
	w.series.Samples = w.series.Samples[:n-1]
	w.last, w.prev = w.prev, look{}
	if w.tree != nil {
		w.tree.dropLast(n - 1)
	}
}

// targetName is the target's name: "server" of "pid 4242 (server)".
func (w *watcher) targetName() string {
	_, name, _ := strings.Cut(w.series.Target, " (")
	return strings.TrimSuffix(name, ")")
}

// exitedDuring reports whether a failed look at sample i failed because
// the target exited: for a command, that it has exited (waiting a little:
// the kernel may drop its /proc entries before it is reaped); for -p, that
// it is gone after it was seen once.
func (w *watcher) exitedDuring(err error, i int) bool {
	if w.cmd != nil {
		return w.cmd.hasExited(childGrace)
	}
	return errors.Is(err, os.ErrNotExist) && i > 0
}

// first names a -p target after its main thread.
func (w *watcher) first(snap *leakcheck.Snapshot) {
	for _, t := range snap.Threads {
		if t.TID == w.pid && w.cmd == nil {
			w.series.Target += " (" + t.Name + ")"
		}
	}
}

// noteOwnThreads adds the names of the target's threads that never named
// themselves to those judged as the runtime's, at every sample: a wrapper
// script that execs the real program changes them.
func (w *watcher) noteOwnThreads() {
	for _, n := range threads.OwnNames(w.pid) {
		w.cfg.judging.ownThreads[familyKey(series.Threads+"/"+n)] = true
	}
}

// readiness reports whether readiness, not a share of the samples, ends
// the warm-up.
func (w *watcher) readiness() bool { return w.cfg.readyAfter > 0 || w.cfg.readyPort > 0 }

// readyWhat says what readiness is: "--ready-port 8080".
func (w *watcher) readyWhat() string {
	if w.cfg.readyPort > 0 {
		return fmt.Sprintf("--ready-port %d", w.cfg.readyPort)
	}
	return "--ready-after " + w.cfg.readyAfter.String()
}

// noteReady records the first sample at which the target is ready.
func (w *watcher) noteReady(l look) {
	if !w.readiness() || w.ready != nil {
		return
	}
	if (w.cfg.readyAfter > 0 && l.at >= w.cfg.readyAfter) || (w.cfg.readyPort > 0 && l.listens(w.cfg.readyPort)) {
		w.ready = &l
	}
}

// listens reports whether the target, or with --tree any process of its
// tree, listens on TCP port.
func (l look) listens(port int) bool {
	if l.tree == nil {
		return listens(l.snap, port)
	}
	for _, m := range l.tree {
		if m.snap != nil && listens(m.snap, port) {
			return true
		}
	}
	return false
}

// listens reports whether the snapshot holds a TCP socket listening on port.
func listens(s *leakcheck.Snapshot, port int) bool {
	if s.Sockets == nil {
		return false
	}
	for _, so := range s.Sockets.Sockets {
		if (so.Proto == sockstate.TCP || so.Proto == sockstate.TCP6) && so.State == sockstate.Listen && int(so.Local.Port()) == port {
			return true
		}
	}
	return false
}

// warmupShare is the leading share of the samples the summary leaves out:
// --warmup, or with readiness the samples before the target was ready.
func (w *watcher) warmupShare() float64 {
	if !w.readiness() {
		return w.cfg.warmup
	}
	if w.ready == nil {
		return 0
	}
	return skipShare(min(w.ready.sample, w.series.Len()-1), w.series.Len())
}

// skipShare returns the warm-up share that leaves out exactly the first
// skip of n samples (series.Stats takes a share and rounds it down).
func skipShare(skip, n int) float64 {
	if skip <= 0 || n <= 0 {
		return 0
	}
	return (float64(skip) + 0.5) / float64(n)
}

// diff compares the last look with the base: the first full snapshot
// after the warm-up, or after the target was ready. While the target is
// alive the last look is a Find, which adds what fdinfo says about
// anonymous descriptors; otherwise it is the last sample's snapshot, so a
// target that exits still leaves a report.
func (w *watcher) diff(alive bool, start time.Time) {
	switch {
	case w.readiness():
		if w.ready == nil {
			w.noReport = fmt.Sprintf("no diff: the target never became ready (%s)", w.readyWhat())
			return
		}
		w.base, w.baseWhy = *w.ready, "the first full snapshot once ready: "+w.readyDesc()
	default:
		end := w.series.WarmupSamples(w.cfg.warmup)
		b, ok := w.bases.base(end)
		if !ok {
			w.noReport = "no diff: no full snapshot after the warm-up"
			return
		}
		w.base = b
		if b.sample == end {
			w.baseWhy = fmt.Sprintf("the first full snapshot after the warm-up of %s", samples(end))
		} else {
			w.baseWhy = fmt.Sprintf("a full snapshot %s after the warm-up of %d ended: leakwatch keeps %d spread over a long watch", samples(b.sample-end), end, maxBases)
		}
	}
	if w.last.snap == nil || (w.base.sample >= w.last.sample && !alive) {
		w.noReport = "no diff: the process exited at the base snapshot, before a later one"
		return
	}
	if w.tree != nil {
		w.treeDiffs = w.diffTree(alive)
		w.lastAt = w.last.at
		if alive {
			w.lastAt = time.Since(start)
		}
		return
	}
	var r *leakcheck.Report
	var err error
	if alive {
		r, err = leakcheck.Find(w.base.snap, leakcheck.WithPID(w.pid), watched, leakcheck.WithTimeout(0))
		w.lastAt = time.Since(start)
	}
	if !alive || err != nil { // exited, or exited just now
		r, err = leakcheck.Compare(w.base.snap, w.last.snap, watched)
		w.lastAt = w.last.at
	}
	if err != nil {
		w.noReport = fmt.Sprintf("no diff: %v", err)
		return
	}
	r.Waited = 0 // one look, no settling: the samples are the time axis
	w.report = familyReport(r)
}

// readyDesc says when the target was ready.
func (w *watcher) readyDesc() string {
	if w.cfg.readyPort > 0 {
		return fmt.Sprintf("listening on port %d", w.cfg.readyPort)
	}
	return w.readyWhat()
}

// countsOf counts a full snapshot by category, as a sample does.
func countsOf(s *leakcheck.Snapshot) series.Counts { return s.Counts() }

// finish judges, prints the summary, writes the files and returns the exit
// status.
func (w *watcher) finish(ended string) int {
	warmup := w.warmupShare()
	res := &result{
		series:     w.series,
		interval:   w.cfg.interval,
		warmup:     warmup,
		ended:      ended,
		endedText:  w.endedText(ended),
		report:     w.report,
		base:       w.base,
		baseWhy:    w.baseWhy,
		lastAt:     w.lastAt,
		noReport:   w.noReport,
		thresholds: limitsNote(&w.cfg.judging.maxSlope, &w.cfg.judging.maxGrowth),
		elapsed:    w.elapsed,
	}
	switch {
	case w.readiness() && w.ready == nil:
		res.warmupNote = fmt.Sprintf("never ready (%s)", w.readyWhat())
		res.warmupUntil = untilFlag(w)
	case w.readiness():
		res.warmupNote = fmt.Sprintf("warm-up until ready at %v (%s, %s)", w.ready.at.Round(time.Millisecond), w.readyDesc(), samples(w.series.WarmupSamples(warmup)))
		res.warmupUntil, res.ready, res.readyAt = untilFlag(w), true, w.ready.at
	default:
		res.warmupNote = fmt.Sprintf("warm-up %g%% (%s)", warmup*100, samples(w.series.WarmupSamples(warmup)))
		res.warmupUntil = "share"
	}
	// A slope needs two samples after the warm-up.
	res.judged = w.series.Len() >= 2 && (!w.readiness() || (w.ready != nil && w.series.Len()-w.ready.sample >= 2))
	if w.series.Len() >= 2 {
		res.stats = w.series.Summary(warmup)
	}
	switch {
	case res.judged && w.tree != nil:
		// The totals over the tree step when a process starts or exits:
		// the tree is judged on its processes, and each process on its own.
		res.verdict = w.cfg.judging.judge(w.series, warmup, isProcessesKey)
	case res.judged:
		res.verdict = w.cfg.judging.judge(w.series, warmup, everyKey)
	}
	if w.tree != nil && w.series.Len() > 0 {
		end := w.series.Samples[w.series.Len()-1].Iteration
		tr, v := w.tree.judgeTree(&w.cfg.judging, end, w.series.WarmupSamples(warmup), res.judged)
		res.verdict.merge(v)
		if w.treeDiffs != nil {
			tr.attach(w.treeDiffs)
		}
		res.tree = tr
	}
	if w.cmd != nil {
		f := w.cmd.fate()
		res.fate = &f
	}
	res.status, res.statusWhy = w.status(res)

	if err := res.write(w.stdout); err != nil {
		fmt.Fprintf(w.stderr, "leakwatch: writing the summary: %v\n", err)
		return exitUsage
	}
	if f := w.outs.json; f != nil {
		if err := f.write(func(out io.Writer) error { return res.writeJSON(out) }); err != nil {
			fmt.Fprintf(w.stderr, "leakwatch: --json: %v\n", err)
			return exitUsage
		}
	}
	if f := w.outs.svg; f != nil {
		err := f.write(func(out io.Writer) error {
			return w.series.WriteSVG(out, series.ChartOptions{Title: "leakwatch: " + w.series.Target, Warmup: warmup})
		})
		if err != nil {
			fmt.Fprintf(w.stderr, "leakwatch: --svg: %v\n", err)
			return exitUsage
		}
	}
	return res.status
}

func untilFlag(w *watcher) string {
	if w.cfg.readyPort > 0 {
		return "ready-port"
	}
	return "ready-after"
}

func (w *watcher) endedText(ended string) string {
	switch ended {
	case endDuration:
		return "--duration " + w.cfg.duration.String() + " ended"
	case endInterrupted:
		return "interrupted"
	}
	return "the process exited"
}

// status returns the exit status and why: the target's failure first (its
// numbers may be cut short), then readiness, then growth.
func (w *watcher) status(res *result) (int, string) {
	switch {
	case res.fate != nil && res.fate.Failed && !w.cfg.ignoreExit:
		return exitTarget, "the target failed; --ignore-exit to judge growth only"
	case w.readiness() && w.ready == nil:
		return exitNotReady, "the target never became ready (" + w.readyWhat() + ")"
	case len(res.verdict.exceeded) > 0:
		return exitGrowth, "growth over its threshold"
	case res.fate != nil && res.fate.Failed:
		return exitOK, "nothing grew over its threshold; the target's failure is ignored (--ignore-exit)"
	case !res.judged:
		return exitOK, "too few samples to judge growth"
	case res.verdict.reportOnly:
		return exitOK, "--report-only"
	}
	return exitOK, "nothing grew over its threshold"
}

// samples is "1 sample", "5 samples".
func samples(n int) string {
	if n == 1 {
		return "1 sample"
	}
	return fmt.Sprintf("%d samples", n)
}
