package heapdiff

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Run defaults; see the package documentation for the measurements behind
// them.
const (
	DefaultWarmup    = 1
	DefaultRounds    = 3
	DefaultTolerance = 16      // bytes per cycle
	DefaultSlack     = 8 << 10 // bytes per round
)

// Config says how Run measures. Start from Defaults.
type Config struct {
	// Warmup is how many rounds run before the first measurement, not
	// counted: caches filling, pools growing to size, a lazily started
	// worker.
	Warmup int
	// Rounds is how many measured rounds follow. The heap is reported as
	// retained only when every one of them retains (CPython's regrtest -R
	// 3:3 does the same for reference counts): a single round that
	// happened to keep a buffer is noise.
	Rounds int
	// Tolerance is the live heap, in bytes per cycle, a round may keep.
	Tolerance float64
	// Slack is the live heap, in bytes per round whatever the cycle count,
	// a round may keep on top of Tolerance: what the runtime takes on its
	// own now and then and never gives back (a new OS thread costs 5.5 KiB
	// of heap), which weighs most when n is small.
	Slack int64
	// Rate is the runtime.MemProfileRate of the profiled round that names
	// the allocation sites when the rounds retained.
	Rate int
	// User tells the user's code from the rest in Site.User (see Diff).
	User func(runtime.Frame) bool
	// Ignore names the sites of the profiled round that are nobody's leak;
	// their bytes are taken off that round's total before it is compared
	// with the tolerance. Defaults sets DefaultIgnores.
	Ignore []Ignore
}

// Defaults returns the configuration Run is meant to be used with:
// DefaultWarmup rounds, DefaultRounds measured rounds, DefaultTolerance per
// cycle and DefaultSlack per round, every allocation recorded in the
// profiled round (DefaultRate), and DefaultIgnores.
func Defaults() Config {
	return Config{
		Warmup:    DefaultWarmup,
		Rounds:    DefaultRounds,
		Tolerance: DefaultTolerance,
		Slack:     DefaultSlack,
		Rate:      DefaultRate,
		Ignore:    DefaultIgnores(),
	}
}

func (c Config) check(n int) error {
	var errs []string
	if n < 1 {
		errs = append(errs, fmt.Sprintf("%d cycles per round: run at least one", n))
	}
	if c.Warmup < 0 {
		errs = append(errs, fmt.Sprintf("Warmup %d: want 0 or more rounds", c.Warmup))
	}
	if c.Rounds < 1 {
		errs = append(errs, fmt.Sprintf("Rounds %d: want at least one measured round (start from Defaults())", c.Rounds))
	}
	if c.Tolerance < 0 || c.Slack < 0 {
		errs = append(errs, fmt.Sprintf("Tolerance %v, Slack %d: want ≥ 0", c.Tolerance, c.Slack))
	}
	if c.Rate < 1 {
		errs = append(errs, fmt.Sprintf("Rate %d: want ≥ 1 (start from Defaults())", c.Rate))
	}
	if len(errs) > 0 {
		return errors.New("heapdiff: " + strings.Join(errs, "; "))
	}
	return nil
}

// Result is what Run found.
type Result struct {
	N         int     // cycles per round
	Tolerance float64 // bytes per cycle
	Slack     int64   // bytes per round
	Retained  []int64 // live heap bytes each measured round left behind
	Objects   []int64 // live heap objects each measured round left behind
	// Profiled is the extra round run at the raised profiling rate when
	// every measured round retained; nil otherwise. Its Sites leave out
	// the ignored ones.
	Profiled *Delta
	Ignored  []Ignored // the sites of the profiled round Config.Ignore named
}

// Leaked reports whether the heap was retained: every measured round kept
// more than the tolerance (Retains), and so did the profiled round once the
// ignored sites are taken off.
func (r *Result) Leaked() bool {
	if !Retains(r.Retained, r.N, r.Tolerance, r.Slack) || r.Profiled == nil {
		return false
	}
	return Retains([]int64{r.Profiled.Bytes - r.ignoredBytes()}, r.N, r.Tolerance, r.Slack)
}

func (r *Result) ignoredBytes() int64 {
	var b int64
	for _, s := range r.Ignored {
		b += s.Site.Bytes
	}
	return b
}

// PerCycle returns the median over the measured rounds of the live heap
// bytes and objects one cycle left behind.
func (r *Result) PerCycle() (bytes, objects float64) {
	return median(r.Retained) / float64(r.N), median(r.Objects) / float64(r.N)
}

func median(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

// maxSites is how many sites Result.String lists.
const maxSites = 5

// String renders the verdict, then the top sites per cycle and what was
// ignored:
//
//	heap: retained 4.1 KiB and 1 object per cycle (rounds of 200 cycles: 4.1 KiB, 4.1 KiB, 4.1 KiB, profiled 4.1 KiB; tolerance 64 B per cycle + 1.0 KiB)
//	  4.0 KiB in 1 object per cycle at pkg.(*Registry).Add (/src/registry.go:31)
func (r *Result) String() string {
	var b strings.Builder
	bytes, objects := r.PerCycle()
	var rounds []string
	for _, v := range r.Retained {
		rounds = append(rounds, perCycle(float64(v)/float64(r.N)))
	}
	if r.Profiled != nil {
		rounds = append(rounds, "profiled "+perCycle(float64(r.Profiled.Bytes)/float64(r.N)))
	}
	if r.Leaked() {
		fmt.Fprintf(&b, "heap: retained %s and %s %s per cycle", perCycle(bytes), num(objects), plural(objects, "object"))
	} else {
		b.WriteString("heap: nothing retained beyond the tolerance")
	}
	fmt.Fprintf(&b, " (rounds of %d cycles: %s; tolerance %s per cycle + %s)",
		r.N, strings.Join(rounds, ", "), perCycle(r.Tolerance), formatBytes(float64(r.Slack)))
	if r.Profiled != nil {
		for i, s := range r.Profiled.Sites {
			if i == maxSites {
				fmt.Fprintf(&b, "\n  … and %d more", len(r.Profiled.Sites)-maxSites)
				break
			}
			b.WriteString("\n  " + r.siteLine(s))
		}
	}
	for i, s := range r.Ignored {
		if i == maxSites {
			fmt.Fprintf(&b, "\n  … and %d more ignored", len(r.Ignored)-maxSites)
			break
		}
		b.WriteString("\n  ignored (" + s.By + "): " + r.siteLine(s.Site))
	}
	return b.String()
}

func (r *Result) siteLine(s Site) string {
	o := float64(s.Objects) / float64(r.N)
	return fmt.Sprintf("%s in %s %s per cycle at %s", perCycle(float64(s.Bytes)/float64(r.N)), num(o), plural(o, "object"), frameString(s.User))
}

// perCycle renders a per-cycle byte figure: whole bytes below 10 KiB.
func perCycle(v float64) string {
	v = math.Round(v)
	if v == 0 {
		v = 0 // not -0
	}
	if v < 0 {
		return "-" + formatBytes(-v)
	}
	return formatBytes(v)
}

// num renders a per-cycle count: whole numbers plainly, others with two
// decimals.
func num(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Run measures what rounds of n create/destroy cycles leave on the heap.
// round runs one round: n creates, then every destroy. Run calls it
// cfg.Warmup times, then cfg.Rounds times with the live heap measured
// (Measure) between rounds. When every round retained more than the
// tolerance (Retains), it runs one more round between two heap profiles at
// the raised rate cfg.Rate (a Window, after a warm-up round at that rate so
// steady objects are sampled too): Result.Profiled names the sites, and
// the verdict (Result.Leaked) needs that round to retain too once the
// ignored sites are taken off. The rate is restored before Run returns; a
// clean run never raises it.
//
// The heap is the whole process's: goroutines running next to the rounds
// (a parallel test) are measured too. An error from round stops Run and is
// returned.
func Run(n int, round func() error, cfg Config) (*Result, error) {
	if err := cfg.check(n); err != nil {
		return nil, err
	}
	if round == nil {
		return nil, errors.New("heapdiff: Run needs a round to run; got nil")
	}
	res := &Result{
		N: n, Tolerance: cfg.Tolerance, Slack: cfg.Slack,
		Retained: make([]int64, 0, cfg.Rounds),
		Objects:  make([]int64, 0, cfg.Rounds),
	}
	for i := range cfg.Warmup {
		if err := round(); err != nil {
			return nil, fmt.Errorf("heapdiff: warm-up round %d: %w", i+1, err)
		}
	}
	prev := Measure()
	for i := range cfg.Rounds {
		if err := round(); err != nil {
			return nil, fmt.Errorf("heapdiff: round %d: %w", i+1, err)
		}
		now := Measure()
		b, o := now.Sub(prev)
		res.Retained = append(res.Retained, b)
		res.Objects = append(res.Objects, o)
		prev = now
	}
	if !Retains(res.Retained, n, cfg.Tolerance, cfg.Slack) {
		return res, nil
	}
	restore, err := SetRate(cfg.Rate)
	if err != nil {
		return nil, err
	}
	defer restore()
	if err := round(); err != nil {
		return nil, fmt.Errorf("heapdiff: warm-up round at profiling rate %d: %w", cfg.Rate, err)
	}
	w, err := Begin(cfg.Rate)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := round(); err != nil {
		return nil, fmt.Errorf("heapdiff: profiled round: %w", err)
	}
	res.Profiled, err = w.End(cfg.User)
	// What the code under test retained is often reachable only through
	// round (a registry a test made and the closure captured): once round
	// is dead, the collection in End would free it and read as a shrink.
	runtime.KeepAlive(round)
	if err != nil {
		return nil, err
	}
	res.Profiled.Sites, res.Ignored = split(res.Profiled.Sites, cfg.Ignore)
	return res, nil
}
