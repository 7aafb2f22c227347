package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

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
	maxSlope   limits
	maxGrowth  limits
	jsonFile   string
	svgFile    string
}

// childGrace is how long a command gets to exit after SIGTERM.
const childGrace = 5 * time.Second

// The resources a watch checks: goroutines exist only for the current
// process.
var watched = leakcheck.WithResources(leakcheck.FDs | leakcheck.Sockets | leakcheck.Threads)

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
	fs.Float64Var(&cfg.warmup, "warmup", 0.2, "leading `share` of the samples left out of start, growth and slopes")
	fs.Var(&cfg.maxSlope, "max-slope", "fail when a category grows faster than this per second: `N`, or CATEGORY=N,... (sockets=0.1,fds/eventfd=0)")
	fs.Var(&cfg.maxGrowth, "max-growth", "fail when a category's end minus start exceeds this: `N`, or CATEGORY=N,...")
	fs.StringVar(&cfg.jsonFile, "json", "", "write the samples, summary and final diff as JSON to `FILE`")
	fs.StringVar(&cfg.svgFile, "svg", "", "write a line chart of the categories that grew most to `FILE`")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	cfg.command = fs.Args()
	switch {
	case cfg.pid != 0 && len(cfg.command) > 0:
		return usageError(stderr, "give -p PID or a command after --, not both")
	case cfg.pid == 0 && len(cfg.command) == 0:
		return usageError(stderr, "nothing to watch: give -p PID, or a command after --")
	case cfg.pid != 0 && checkPID(cfg.pid) != nil:
		return usageError(stderr, "%v", checkPID(cfg.pid))
	case cfg.interval <= 0:
		return usageError(stderr, "--interval %v: want a positive duration such as 1s or 200ms", cfg.interval)
	case cfg.duration < 0:
		return usageError(stderr, "--duration %v: want 0 (until the process exits) or a positive duration", cfg.duration)
	case cfg.printEvery < 0:
		return usageError(stderr, "--print-every %v: want 0 (never) or a positive duration", cfg.printEvery)
	}
	if err := series.CheckWarmup(cfg.warmup); err != nil {
		return usageError(stderr, "--warmup: %v", err)
	}
	// Refuse early, before starting a command, where nothing can be read.
	if _, err := (series.Sampler{}).Sample(); errors.Is(err, errors.ErrUnsupported) {
		return cannotRead(stderr, os.Getpid(), err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w := &watcher{cfg: cfg, stdout: stdout, stderr: stderr, stopSignals: stop}
	if len(cfg.command) > 0 {
		if err := w.start(); err != nil {
			fmt.Fprintf(stderr, "leakwatch: starting %s: %v\n", cfg.command[0], err)
			return exitUsage
		}
		defer w.stopChild()
	}
	return w.watch(ctx)
}

// watcher is one watch of one process.
type watcher struct {
	cfg            watchConfig
	stdout, stderr io.Writer
	stopSignals    func() // after the first Ctrl-C, a second one ends leakwatch at once

	pid     int
	child   *exec.Cmd
	exited  chan struct{} // closed when the command has exited
	waitErr error         // the command's exit, once exited is closed
	stopped bool          // leakwatch signalled the command

	series *series.Series
	base   *leakcheck.Snapshot // the first full snapshot
	baseAt time.Duration
	report *leakcheck.Report // the last full snapshot, compared with base
	lastAt time.Duration
}

// start starts the command to watch in a process group of its own.
func (w *watcher) start() error {
	cmd := exec.Command(w.cfg.command[0], w.cfg.command[1:]...)
	cmd.Stdin = os.Stdin
	cmd.Stdout = w.stderr // leakwatch's standard output is its report alone
	cmd.Stderr = w.stderr
	ownProcessGroup(cmd)
	// The parent-death signal is tied to the thread that started the
	// command, not to the process: start and wait for it on a thread kept
	// for that, so the runtime never retires it while the command runs.
	w.exited = make(chan struct{})
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		w.waitErr = cmd.Wait()
		close(w.exited)
	}()
	if err := <-started; err != nil {
		return err
	}
	w.child, w.pid = cmd, cmd.Process.Pid
	return nil
}

// stopChild ends the command if it is still running: SIGTERM to its
// group, then SIGKILL after childGrace.
func (w *watcher) stopChild() {
	if w.child == nil {
		return
	}
	select {
	case <-w.exited:
		return
	default:
	}
	w.stopped = true
	terminateGroup(w.child, false)
	select {
	case <-w.exited:
	case <-time.After(childGrace):
		terminateGroup(w.child, true)
		<-w.exited
	}
}

// childStatus describes how the command ended.
func (w *watcher) childStatus() string {
	if w.child == nil {
		return ""
	}
	name := filepath.Base(w.cfg.command[0])
	var ee *exec.ExitError
	switch {
	case w.waitErr == nil:
		return fmt.Sprintf("%s (pid %d) exited with status 0", name, w.pid)
	case errors.As(w.waitErr, &ee) && ee.Exited():
		return fmt.Sprintf("%s (pid %d) exited with status %d", name, w.pid, ee.ExitCode())
	case w.stopped:
		return fmt.Sprintf("%s (pid %d) stopped by leakwatch: %v", name, w.pid, w.waitErr)
	default:
		return fmt.Sprintf("%s (pid %d) ended: %v", name, w.pid, w.waitErr)
	}
}

func (w *watcher) target() string {
	t := fmt.Sprintf("pid %d", w.pid)
	if ts, err := threads.List(w.pid); err == nil {
		for _, th := range ts {
			if th.TID == w.pid {
				t += " (" + th.Name + ")"
			}
		}
	}
	return t
}

// gone reports whether err says the target no longer exists.
func gone(err error) bool { return errors.Is(err, os.ErrNotExist) }

func (w *watcher) watch(ctx context.Context) int {
	if w.pid == 0 {
		w.pid = w.cfg.pid
	}
	w.series = &series.Series{Target: w.target()}
	var baseAfter time.Duration // when the first full snapshot is taken
	if w.cfg.duration > 0 {
		baseAfter = time.Duration(w.cfg.warmup * float64(w.cfg.duration))
	}
	prog := newProgress(w.stdout, w.cfg.printEvery)
	ticker := time.NewTicker(w.cfg.interval)
	defer ticker.Stop()

	start := time.Now()
	ended := ""
	last := false
	for i := 0; ; i++ {
		now := time.Now()
		elapsed := now.Sub(start)
		final := last || (w.cfg.duration > 0 && elapsed >= w.cfg.duration)
		// One full snapshot per sample: the counts come from it, and it is
		// compared with the first, so nothing is listed twice.
		snap, err := leakcheck.Take(leakcheck.WithPID(w.pid), watched)
		if err != nil {
			if gone(err) && i > 0 {
				ended = "the process exited"
				break
			}
			return cannotRead(w.stderr, w.pid, err)
		}
		w.series.Add(i, now, countsOf(snap))
		if err := w.compare(snap, elapsed, baseAfter, final); err != nil {
			if gone(err) {
				ended = "the process exited"
				break
			}
			return cannotRead(w.stderr, w.pid, err)
		}
		prog.update(w.series, elapsed)
		if last {
			ended = "interrupted"
			break
		}
		if w.cfg.duration > 0 && elapsed >= w.cfg.duration {
			ended = "--duration " + w.cfg.duration.String() + " ended"
			break
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			last = true // one more look while the target is still there
			w.stopSignals()
		case <-w.exited:
			ended = "the process exited"
		}
		if ended != "" {
			break
		}
	}
	prog.done()
	w.stopChild()
	return w.finish(ended)
}

// compare keeps the first snapshot taken once the warm-up is over as the
// base, and compares every later one with it, keeping the last report. The
// final look (the target is still there) is a Find, which adds what fdinfo
// says about anonymous descriptors; earlier ones compare the snapshots
// already taken, so a target that exits still leaves a report.
func (w *watcher) compare(snap *leakcheck.Snapshot, elapsed, baseAfter time.Duration, final bool) error {
	if w.base == nil {
		if elapsed >= baseAfter {
			w.base, w.baseAt = snap, elapsed
		}
		return nil
	}
	var r *leakcheck.Report
	var err error
	if final {
		r, err = leakcheck.Find(w.base, leakcheck.WithPID(w.pid), watched, leakcheck.WithTimeout(0))
	} else {
		r, err = leakcheck.Compare(w.base, snap, watched)
	}
	if err != nil {
		return err
	}
	r.Waited = 0 // one look, no settling: the samples are the time axis
	w.report, w.lastAt = r, elapsed
	return nil
}

// countsOf counts a full snapshot by category, as a sample does.
func countsOf(s *leakcheck.Snapshot) series.Counts {
	var socks map[sockstate.Class]int
	if s.Sockets != nil {
		socks = s.Sockets.Counts()
	}
	ts := make([]threads.Thread, len(s.Threads))
	for i, t := range s.Threads {
		ts[i] = threads.Thread{TID: t.TID, Name: t.Name}
	}
	return series.CountsOf(s.FDs, socks, ts)
}

// finish prints the summary, writes the files and returns the exit status.
func (w *watcher) finish(ended string) int {
	res := result{
		series:   w.series,
		interval: w.cfg.interval,
		warmup:   w.cfg.warmup,
		ended:    ended,
		report:   w.report,
		baseAt:   w.baseAt,
		lastAt:   w.lastAt,
		child:    w.childStatus(),
	}
	res.stats = w.series.Summary(w.cfg.warmup)
	res.exceeded = exceeded(w.series, w.cfg.warmup, &w.cfg.maxSlope, &w.cfg.maxGrowth)
	res.limits = limitsNote(&w.cfg.maxSlope, &w.cfg.maxGrowth)
	if w.base != nil && w.report == nil {
		res.noReport = "one full snapshot only: the process exited before a second"
	} else if w.base == nil {
		res.noReport = "no full snapshot: the process exited before the warm-up ended"
	}
	status := exitOK
	if len(res.exceeded) > 0 {
		status = exitGrowth
	}
	if err := res.write(w.stdout); err != nil {
		fmt.Fprintf(w.stderr, "leakwatch: writing the summary: %v\n", err)
		return exitUsage
	}
	if w.cfg.jsonFile != "" {
		if err := writeFile(w.cfg.jsonFile, func(f io.Writer) error { return res.writeJSON(f, status) }); err != nil {
			fmt.Fprintf(w.stderr, "leakwatch: --json: %v\n", err)
			return exitUsage
		}
	}
	if w.cfg.svgFile != "" {
		err := writeFile(w.cfg.svgFile, func(f io.Writer) error {
			return w.series.WriteSVG(f, series.ChartOptions{Title: "leakwatch: " + w.series.Target, Warmup: w.cfg.warmup})
		})
		if err != nil {
			fmt.Fprintf(w.stderr, "leakwatch: --svg: %v\n", err)
			return exitUsage
		}
	}
	return status
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// exceeded returns one line per threshold a category exceeded.
func exceeded(s *series.Series, warmup float64, maxSlope, maxGrowth *limits) []string {
	keys := s.Keys()
	for _, k := range append(maxSlope.keys(), maxGrowth.keys()...) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k) // named but never seen: judged as 0
		}
	}
	var out []string
	for _, k := range keys {
		st := s.Stats(k, warmup)
		if lim, ok := maxGrowth.limit(k); ok && float64(st.Growth) > lim {
			out = append(out, fmt.Sprintf("%s grew by %d (%d → %d), more than --max-growth %s", k, st.Growth, st.Start, st.End, fmtLimit(lim)))
		}
		if lim, ok := maxSlope.limit(k); ok && st.Fitted && st.PerSecond > lim {
			out = append(out, fmt.Sprintf("%s grew %.3g per second (%.3g per sample), more than --max-slope %s", k, st.PerSecond, st.PerIteration, fmtLimit(lim)))
		}
	}
	return out
}

func fmtLimit(v float64) string { return fmt.Sprint(v) }

// limitsNote says which thresholds were applied.
func limitsNote(maxSlope, maxGrowth *limits) string {
	var parts []string
	if maxSlope.set() {
		parts = append(parts, "--max-slope "+maxSlope.String())
	}
	if maxGrowth.set() {
		parts = append(parts, "--max-growth "+maxGrowth.String())
	}
	return strings.Join(parts, ", ")
}
