//go:build linux

package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

type results struct {
	sock      []sockRow
	sockNotes []string
	gor       []goRow

	checkOurs, checkTheirs   float64 // ns per clean check
	settleOurs, settleTheirs map[string]float64
}

// A target is one DESIGN goal with what this run measured.
type target struct {
	what, measured, goal string
	met                  bool
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func nsText(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func bytesText(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *results) sockAt(n int, prefix string) (sockRow, bool) {
	for _, s := range r.sock {
		if s.n == n && strings.HasPrefix(s.tool, prefix) {
			return s, true
		}
	}
	return sockRow{}, false
}

func (r *results) targets() []target {
	var ts []target
	if ours, ok := r.sockAt(10000, "sockstate"); ok {
		for _, c := range []struct {
			prefix string
			goal   float64
		}{{"lsof", 10}, {"ss", 6}} {
			if t, ok := r.sockAt(10000, c.prefix); ok {
				x := float64(t.wall) / float64(ours.wall)
				ts = append(ts, target{
					what:     "fd + socket snapshot of a PID at 10 000 TCP sockets vs `" + strings.TrimSuffix(strings.TrimSuffix(t.tool, " PID"), " -p") + "`",
					measured: fmt.Sprintf("%.1f× faster (%s vs %s)", x, ms(ours.wall), ms(t.wall)),
					goal:     fmt.Sprintf("≥ %.0f× faster", c.goal),
					met:      x >= c.goal,
				})
			}
		}
		if t, ok := r.sockAt(10000, "bare readlink"); ok {
			x := float64(ours.wall) / float64(t.wall)
			ts = append(ts, target{
				what:     "fd + socket snapshot of a PID at 10 000 TCP sockets vs the bare readlink loop",
				measured: fmt.Sprintf("%.2f× its time (%s vs %s)", x, ms(ours.wall), ms(t.wall)),
				goal:     "≤ 1.0×",
				met:      x <= 1.0,
			})
		}
	}
	for _, g := range r.gor {
		if g.n != 100000 {
			continue
		}
		x := g.theirs / g.ours
		ts = append(ts, target{
			what:     "goroutine verdict at 100 000 parked goroutines vs `goleak.Find`",
			measured: fmt.Sprintf("%.1f× faster (%s vs %s)", x, nsText(g.ours), nsText(g.theirs)),
			goal:     "≥ 10× faster",
			met:      x >= 10,
		})
	}
	if r.checkOurs > 0 {
		x := r.checkOurs / r.checkTheirs
		ts = append(ts, target{
			what:     "clean `leakcheck.Check` vs `goleak.VerifyNone`, same small test",
			measured: fmt.Sprintf("%.2f× its cost (%s vs %s)", x, nsText(r.checkOurs), nsText(r.checkTheirs)),
			goal:     "≤ 2×",
			met:      x <= 2,
		})
	}
	if r.settleOurs != nil {
		p50, p90 := r.settleOurs["p50-ms"], r.settleOurs["p90-ms"]
		ts = append(ts, target{
			what:     "settle latency: teardown ends 50 ms after the body, body end → pass",
			measured: fmt.Sprintf("p50 %.1f ms, p90 %.1f ms", p50, p90),
			goal:     "≤ 50 ms + 20 ms",
			met:      p50 <= 70 && p90 <= 70,
		})
	}
	return ts
}

func (r *results) write(w io.Writer, header string, o options, took time.Duration) {
	fmt.Fprintf(w, "# Benchmark results\n\n")
	fmt.Fprintf(w, "Produced by `bench/run.sh` (see bench/README.md for what each figure measures and what limits it).\n\n")
	fmt.Fprintf(w, "Machine: %s.\n\n", header)
	fmt.Fprintf(w, "Run: %s, %d alternating runs per figure (after one untimed warm-up round; at most 5 for the settle latency and for 100 000 goroutines), medians; %s in all.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), o.runs, took.Round(time.Second))

	if ts := r.targets(); len(ts) > 0 {
		fmt.Fprintf(w, "## Targets (DESIGN goals)\n\n| goal | measured | target | |\n|---|---|---|---|\n")
		for _, t := range ts {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.what, t.measured, t.goal, yes(t.met))
		}
		fmt.Fprintln(w)
	}
	if len(r.sock) > 0 {
		fmt.Fprintf(w, "## Sockets: a full fd + socket snapshot of another process\n\n")
		fmt.Fprintf(w, "Each tool is a fresh process (start-up included) reading a holder process with N TCP loopback sockets (the namespace holds 2N: the peer's ends too). CPU is user + system time of that process; on a shared machine it is the steadier figure.\n\n")
		fmt.Fprintf(w, "| TCP sockets | tool | median wall | median CPU | wall vs ours |\n|---:|---|---:|---:|---:|\n")
		for _, s := range r.sock {
			ours, _ := r.sockAt(s.n, "sockstate")
			ratio := "1×"
			if s.tool != ours.tool {
				x := float64(s.wall) / float64(ours.wall)
				if x >= 1 {
					ratio = fmt.Sprintf("%.1f× slower", x)
				} else {
					ratio = fmt.Sprintf("%.2f× (faster)", x)
				}
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s |\n", s.n, s.tool, ms(s.wall), ms(s.cpu), ratio)
		}
		fmt.Fprintln(w)
		for _, n := range r.sockNotes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		fmt.Fprintln(w)
	}
	if len(r.gor) > 0 {
		fmt.Fprintf(w, "## Goroutines: a clean verdict with N parked goroutines\n\n")
		fmt.Fprintf(w, "`leakcheck.Find` (goroutines only, baseline taken before) vs `goleak.Find(IgnoreCurrent)` with the ignore list built before: `BenchmarkFindGoroutines` and `BenchmarkGoleakFindGoroutines` in ./leakcheck, one process per run.\n\n")
		fmt.Fprintf(w, "| goroutines | leakcheck | goleak | goleak ÷ leakcheck | allocated: leakcheck / goleak |\n|---:|---:|---:|---:|---:|\n")
		for _, g := range r.gor {
			fmt.Fprintf(w, "| %s | %s | %s | %.1f× | %s / %s |\n", strconv.Itoa(g.n), nsText(g.ours), nsText(g.theirs), g.theirs/g.ours, bytesText(g.oursB), bytesText(g.theirsB))
		}
		fmt.Fprintln(w)
	}
	if r.checkOurs > 0 {
		fmt.Fprintf(w, "## Per-test cost of a clean check\n\n")
		fmt.Fprintf(w, "`BenchmarkCheckClean` (baseline + verdict, all four resources) vs `BenchmarkGoleakVerifyNone` (goroutines only) in ./leakcheck.\n\n")
		fmt.Fprintf(w, "| leakcheck.Check | goleak.VerifyNone | ratio |\n|---:|---:|---:|\n| %s | %s | %.2f× |\n\n", nsText(r.checkOurs), nsText(r.checkTheirs), r.checkOurs/r.checkTheirs)
	}
	if r.settleOurs != nil {
		fmt.Fprintf(w, "## Settle latency\n\n")
		fmt.Fprintf(w, "A clean test whose teardown goroutine exits 50 ms after the body; time from the body's end until the check passes (`BenchmarkSettleCheck`, `BenchmarkSettleGoleak` in ./bench/settle, 21 checks per run; medians over runs of each run's p50 and p90).\n\n")
		fmt.Fprintf(w, "| check | p50 | p90 | goal |\n|---|---:|---:|---|\n")
		fmt.Fprintf(w, "| leakcheck.Check | %.1f ms | %.1f ms | ≤ 70 ms |\n", r.settleOurs["p50-ms"], r.settleOurs["p90-ms"])
		fmt.Fprintf(w, "| goleak.VerifyNone | %.1f ms | %.1f ms | |\n\n", r.settleTheirs["p50-ms"], r.settleTheirs["p90-ms"])
	}
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("socket count %q: want a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
