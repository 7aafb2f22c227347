//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchRun runs one benchmark of a compiled test binary in a fresh process
// and returns its metrics by unit ("ns/op", "p50-ms", …).
func benchRun(bin, pattern, benchtime string) (map[string]float64, error) {
	argv := []string{bin, "-test.run=^$", "-test.bench=" + pattern, "-test.benchtime=" + benchtime, "-test.count=1", "-test.benchmem"}
	c := exec.Command(argv[0], argv[1:]...)
	out, err := c.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	var found map[string]float64
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue // a header of sub-benchmarks
		}
		if found != nil {
			return nil, fmt.Errorf("%s: more than one benchmark matched:\n%s", strings.Join(argv, " "), out)
		}
		found = map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: metric %q in %q: %w", strings.Join(argv, " "), f[i], line, err)
			}
			found[f[i+1]] = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s: no benchmark result (skipped?):\n%s", strings.Join(argv, " "), out)
	}
	return found, nil
}

// pair is one benchmark of ours and the one it is compared with.
type pair struct {
	ours, theirs         string // -test.bench patterns
	oursTime, theirsTime string // -test.benchtime
}

// alternate runs the two benchmarks of p alternately, runs times each
// after one untimed warm-up round, and returns the medians of each unit.
func alternate(bin string, p pair, runs int) (ours, theirs map[string]float64, err error) {
	var a, b []map[string]float64
	for r := 0; r < runs+1; r++ {
		ma, err := benchRun(bin, p.ours, p.oursTime)
		if err != nil {
			return nil, nil, err
		}
		mb, err := benchRun(bin, p.theirs, p.theirsTime)
		if err != nil {
			return nil, nil, err
		}
		if r > 0 {
			a, b = append(a, ma), append(b, mb)
		}
	}
	return medians(a), medians(b), nil
}

func medians(ms []map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for unit := range ms[0] {
		var vs []float64
		for _, m := range ms {
			vs = append(vs, m[unit])
		}
		slices.Sort(vs)
		out[unit] = vs[len(vs)/2]
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func needBinary(p string) error {
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("%w (bench/run.sh builds it with go test -c)", err)
	}
	return nil
}

type goRow struct {
	n              int
	ours, theirs   float64 // ns per verdict
	oursB, theirsB float64 // bytes allocated per verdict
}

func (r *results) goroutines(o options) error {
	if err := needBinary(o.leakTest); err != nil {
		return err
	}
	sizes := []struct {
		n                    int
		oursTime, theirsTime string
		runs                 int
	}{
		{1000, "200x", "20x", o.runs},
		{10000, "20x", "3x", o.runs},
		{100000, "5x", "1x", min(o.runs, 5)},
	}
	for _, s := range sizes {
		if o.short && s.n > 10000 {
			continue
		}
		fmt.Fprintf(os.Stderr, "goroutines: %d parked, %d alternating runs\n", s.n, s.runs)
		sub := "/^" + strconv.Itoa(s.n) + "$"
		a, b, err := alternate(o.leakTest, pair{
			ours: "^BenchmarkFindGoroutines$" + sub, theirs: "^BenchmarkGoleakFindGoroutines$" + sub,
			oursTime: s.oursTime, theirsTime: s.theirsTime,
		}, s.runs)
		if err != nil {
			return err
		}
		r.gor = append(r.gor, goRow{s.n, a["ns/op"], b["ns/op"], a["B/op"], b["B/op"]})
	}
	return nil
}

func (r *results) check(o options) error {
	if err := needBinary(o.leakTest); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "per-test cost: %d alternating runs\n", o.runs)
	a, b, err := alternate(o.leakTest, pair{
		ours: "^BenchmarkCheckClean$", theirs: "^BenchmarkGoleakVerifyNone$",
		oursTime: "300x", theirsTime: "300x",
	}, o.runs)
	if err != nil {
		return err
	}
	r.checkOurs, r.checkTheirs = a["ns/op"], b["ns/op"]
	return nil
}

func (r *results) settleLatency(o options) error {
	if err := needBinary(o.settle); err != nil {
		return err
	}
	runs := min(o.runs, 5)
	fmt.Fprintf(os.Stderr, "settle latency: %d alternating runs of 21 checks\n", runs)
	a, b, err := alternate(o.settle, pair{
		ours: "^BenchmarkSettleCheck$", theirs: "^BenchmarkSettleGoleak$",
		oursTime: "21x", theirsTime: "21x",
	}, runs)
	if err != nil {
		return err
	}
	r.settleOurs, r.settleTheirs = a, b
	return nil
}
