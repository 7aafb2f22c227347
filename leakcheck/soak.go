package leakcheck

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/internal/slope"
)

// Soak defaults.
const (
	DefaultSoakIterations = 1000                   // when neither WithIterations nor WithDuration is given
	DefaultSampleInterval = 100 * time.Millisecond // between per-category samples
	DefaultWarmup         = 0.2                    // share of the run left out of the slopes
	DefaultMaxSlope       = 0.05                   // growth per iteration that fails a soak
)

// WithIterations makes a soak run op n times (DefaultSoakIterations if
// neither this nor WithDuration is given). With both, the soak stops at
// whichever comes first.
func WithIterations(n int) Option {
	return soakOption(fmt.Sprintf("WithIterations(%d)", n), func(c *config) {
		if n < 2 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithIterations(%d): a slope needs at least 2 iterations", n))
			return
		}
		c.soak.iterations = n
	})
}

// WithDuration makes a soak run op repeatedly for d.
func WithDuration(d time.Duration) Option {
	return soakOption(fmt.Sprintf("WithDuration(%v)", d), func(c *config) {
		if d <= 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithDuration(%v): want a positive duration", d))
			return
		}
		c.soak.duration = d
	})
}

// WithSampleInterval sets how often a soak takes a per-category sample
// (descriptors by kind, sockets by protocol and state, threads by name);
// DefaultSampleInterval otherwise. Totals (every descriptor, every
// goroutine) are sampled between iterations regardless, with one system
// call: every iteration when an iteration takes longer than about 25 µs,
// every few iterations for cheaper ones, so that sampling stays within 2%
// of the run.
func WithSampleInterval(d time.Duration) Option {
	return soakOption(fmt.Sprintf("WithSampleInterval(%v)", d), func(c *config) {
		if d < 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithSampleInterval(%v): the interval cannot be negative", d))
			return
		}
		c.soak.interval = d
	})
}

// WithWarmup sets the leading share of a soak left out of the slopes
// (DefaultWarmup): caches filling and pools growing to size at start-up are
// not growth.
func WithWarmup(share float64) Option {
	return soakOption(fmt.Sprintf("WithWarmup(%v)", share), func(c *config) {
		if err := series.CheckWarmup(share); err != nil {
			c.misuse = append(c.misuse, fmt.Sprintf("WithWarmup(%v): %v", share, err))
			return
		}
		c.soak.warmup = share
	})
}

// WithMaxSlope sets the growth per iteration, in any category, that fails a
// soak (DefaultMaxSlope). A leak of one socket per iteration has slope 1; a
// cache that fills and then stays flat has slope 0 after the warm-up.
func WithMaxSlope(perIteration float64) Option {
	return soakOption(fmt.Sprintf("WithMaxSlope(%v)", perIteration), func(c *config) {
		if perIteration < 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithMaxSlope(%v): want a growth ≥ 0", perIteration))
			return
		}
		c.soak.maxSlope = perIteration
		c.soak.maxSlopeSet = true
	})
}

// WithMaxGrowthPerMinute fails a soak when any category grows faster than
// n per minute, for time-driven soaks (a monitor that checks every tick)
// where a per-iteration figure means little. It applies in addition to
// WithMaxSlope when that is given too.
func WithMaxGrowthPerMinute(n float64) Option {
	return soakOption(fmt.Sprintf("WithMaxGrowthPerMinute(%v)", n), func(c *config) {
		if n < 0 {
			c.misuse = append(c.misuse, fmt.Sprintf("WithMaxGrowthPerMinute(%v): want a growth ≥ 0", n))
			return
		}
		c.soak.maxPerMinute = n
		c.soak.maxPerMinuteSet = true
	})
}

// soakOption is an option only soaks take.
func soakOption(name string, set func(*config)) Option { return option{name, inSoak, set} }

type soakConfig struct {
	iterations      int
	duration        time.Duration
	interval        time.Duration
	warmup          float64
	maxSlope        float64
	maxSlopeSet     bool
	maxPerMinute    float64
	maxPerMinuteSet bool
	progress        func(string) // where progress lines go (the test log)
	progressEvery   time.Duration
}

// Growth is what a soak found about one category: its counts and the
// robust (Theil–Sen) slope fitted after the warm-up.
type Growth struct {
	Key          string  // "sockets/tcp CLOSE_WAIT", "fds/eventfd", "threads", "all fds"
	Start, End   int     // counts after the warm-up and at the end
	Max          int     // the largest count seen
	PerIteration float64 // slope per iteration
	PerMinute    float64 // slope per minute
	// Culprits are the items of SoakReport.End in this category, for the
	// categories in Growing (under the most specific one when a total and
	// its part both grow).
	Culprits []Item

	timed bool // the soak ran long enough (or by time) for a per-minute figure to mean something
}

// String renders "sockets/tcp CLOSE_WAIT +0.98/iteration (3 → 101, max
// 101)", with the per-minute slope too when the soak ran for at least ten
// seconds or by time.
func (g Growth) String() string {
	rate := fmt.Sprintf("%+.2f/iteration", g.PerIteration)
	if g.timed {
		rate += fmt.Sprintf(", %+.1f/minute", g.PerMinute)
	}
	return fmt.Sprintf("%s %s (%d → %d, max %d)", g.Key, rate, g.Start, g.End, g.Max)
}

// SoakReport is what a soak found.
type SoakReport struct {
	Iterations int
	Elapsed    time.Duration
	Categories []Growth // every category sampled, in report order
	Growing    []Growth // the categories over the tolerance: the verdict
	End        *Report  // what the process held at the end that it did not at the start: the culprits

	detail *series.Series
	warmup float64
}

// Leaked reports whether any category grew faster than the tolerance.
func (s *SoakReport) Leaked() bool { return len(s.Growing) > 0 }

// Growth returns the category named key (as in Report.Counts, or "all fds"
// for every descriptor sockets included), and whether it was sampled.
func (s *SoakReport) Growth(key string) (Growth, bool) {
	for _, g := range s.Categories {
		if g.Key == key {
			return g, true
		}
	}
	return Growth{}, false
}

// String renders the verdict, one line per growing category with its
// culprits, then a table of every category.
func (s *SoakReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leakcheck: soak of %d iterations in %s: ", s.Iterations, s.Elapsed.Round(time.Millisecond))
	if !s.Leaked() {
		b.WriteString("nothing grew")
	} else {
		fmt.Fprintf(&b, "%d growing:", len(s.Growing))
		for _, g := range s.Growing {
			b.WriteString("\n  " + g.String())
			writeLines(&b, g.Culprits, 5)
		}
	}
	if s.detail != nil && s.detail.Len() > 0 {
		b.WriteString("\n")
		var t strings.Builder
		_ = series.WriteTable(&t, s.detail.Summary(s.warmup))
		for _, line := range strings.Split(strings.TrimRight(t.String(), "\n"), "\n") {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}

// WriteJSON writes the soak's per-category samples (schema
// "leakcheck.series/v1", see cmd/leakwatch).
func (s *SoakReport) WriteJSON(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := s.detail.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteSVG draws the soak's per-category samples as a line chart.
func (s *SoakReport) WriteSVG(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := s.detail.WriteSVG(f, series.ChartOptions{Warmup: s.warmup}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// quickSeries keeps the per-iteration count of every descriptor, thinned
// to at most maxQuick points: when full it drops every other point and from
// then on keeps every other point offered (then every fourth, …), so a long
// soak keeps evenly spaced samples in bounded memory.
type quickSeries struct {
	keepEvery int // keep one offered point in keepEvery
	offered   int
	iters     []float64
	times     []float64 // seconds since start
	fds       []float64
}

const maxQuick = 4096

func (q *quickSeries) add(i int, sec float64, fds int) {
	if q.keepEvery == 0 {
		q.keepEvery = 1
	}
	q.offered++
	if q.offered%q.keepEvery != 0 {
		return
	}
	if len(q.iters) == maxQuick {
		keep := func(s []float64) []float64 {
			out := s[:0]
			for j := 0; j < len(s); j += 2 {
				out = append(out, s[j])
			}
			return out
		}
		q.iters, q.times, q.fds = keep(q.iters), keep(q.times), keep(q.fds)
		q.keepEvery *= 2
		q.offered = 0
		return
	}
	q.iters = append(q.iters, float64(i))
	q.times = append(q.times, sec)
	q.fds = append(q.fds, float64(fds))
}

// sampleBudget is the share of the operation's own time the per-iteration
// sampling may take: for operations cheaper than its system call, the
// totals are sampled every few iterations instead of every one.
const sampleBudget = 0.02

// nextStride returns how many iterations to let pass between per-iteration
// samples so that sampling costs about sampleBudget of the operation.
func nextStride(opNanos, sampleNanos float64) int {
	if opNanos <= 0 {
		return 1
	}
	k := int(math.Ceil(sampleNanos / (sampleBudget * opNanos)))
	return min(max(k, 1), 64)
}

// RunSoak runs op repeatedly (see WithIterations, WithDuration), sampling
// the process's totals every iteration and its per-category counts at an
// interval, fits a robust slope to each category after a warm-up share, and
// reports the categories that grow faster than the tolerance, with the
// culprits from the difference between full snapshots taken at the start
// and at the end. An error from op stops the soak and is returned.
// Soak is the testing.TB form.
func RunSoak(op func(i int) error, opts ...Option) (*SoakReport, error) {
	cfg := newConfig(inSoak, opts)
	if op == nil {
		cfg.misusef("a soak needs an operation to repeat; got nil")
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	return runSoak(cfg, op)
}

func runSoak(cfg *config, op func(int) error) (*SoakReport, error) {
	sc := cfg.soak
	if sc.iterations == 0 && sc.duration == 0 {
		sc.iterations = DefaultSoakIterations
	}
	if !sc.maxSlopeSet && !sc.maxPerMinuteSet {
		sc.maxSlope, sc.maxSlopeSet = DefaultMaxSlope, true
	}
	if sc.progressEvery == 0 {
		sc.progressEvery = 5 * time.Second
	}
	base, err := take(cfg, baselineLook)
	if err != nil {
		return nil, err
	}
	detail := &series.Series{Target: cfg.target.String()}
	quick := quickTally(cfg)
	var heap *heapMeter
	if cfg.resources&Heap != 0 && cfg.target.self {
		heap = newHeapMeter(cfg, sc.warmup)
	}
	sample := func(i int, now time.Time) error {
		s, err := take(cfg, sampleLook)
		if err != nil {
			return err
		}
		counts := s.Counts()
		if heap != nil {
			heap.sample(counts)
		}
		detail.Add(i, now, counts)
		return nil
	}
	start := time.Now()
	if err := sample(0, start); err != nil {
		return nil, err
	}
	lastSample, lastProgress := start, start
	// Running averages of what one operation and one per-iteration sample
	// cost, to keep sampling within its budget.
	var opNanos, sampleNanos float64
	avg := func(a *float64, d time.Duration) {
		if *a == 0 {
			*a = float64(d)
		} else {
			*a += (float64(d) - *a) / 16
		}
	}
	stride := 1
	before := time.Now()
	i := 0
	for ; ; i++ {
		if sc.iterations > 0 && i >= sc.iterations {
			break
		}
		if sc.duration > 0 && before.Sub(start) >= sc.duration {
			break
		}
		if err := op(i); err != nil {
			return nil, fmt.Errorf("leakcheck: soak iteration %d: %w", i, err)
		}
		now := time.Now()
		avg(&opNanos, now.Sub(before))
		if quick != nil && ((i+1)%stride == 0 || i+1 == sc.iterations) {
			if err := quick.sample(i+1, now.Sub(start).Seconds()); err != nil {
				return nil, err
			}
			if heap != nil {
				heap.tally()
			}
			after := time.Now()
			avg(&sampleNanos, after.Sub(now))
			stride = nextStride(opNanos, sampleNanos)
			now = after
		}
		before = now
		if heap != nil {
			progress := 0.0
			if sc.iterations > 0 {
				progress = float64(i+1) / float64(sc.iterations)
			}
			if sc.duration > 0 {
				progress = max(progress, float64(now.Sub(start))/float64(sc.duration))
			}
			heap.step(i+1, progress)
			now = time.Now() // a measurement is not the operation's time
			before = now
		}
		if now.Sub(lastSample) >= sc.interval {
			if err := sample(i+1, now); err != nil {
				return nil, err
			}
			lastSample = now
		}
		if sc.progress != nil && now.Sub(lastProgress) >= sc.progressEvery {
			sc.progress(fmt.Sprintf("leakcheck: soak %s: %d iterations: %s",
				now.Sub(start).Round(time.Second), i+1, totals(detail.Samples[len(detail.Samples)-1].Counts)))
			lastProgress = now
		}
	}
	elapsed := time.Since(start)
	if heap != nil {
		heap.finish(i)
	}
	if last := detail.Samples[len(detail.Samples)-1]; last.Iteration != i {
		if err := sample(i, time.Now()); err != nil {
			return nil, err
		}
	}
	// The culprits: what the process holds now that it did not at the start.
	end, err := lookOnce(cfg, base)
	if err != nil {
		return nil, err
	}
	rep := &SoakReport{Iterations: i, Elapsed: elapsed, End: end, detail: detail, warmup: sc.warmup}
	if heap == nil && cfg.resources&Heap != 0 {
		end.Unchecked = append(end.Unchecked, "heap not measured: only the current process's heap can be, not "+cfg.target.String()+"'s")
	}
	for _, st := range detail.Summary(sc.warmup) {
		rep.Categories = append(rep.Categories, Growth{Key: st.Key, Start: st.Start, End: st.End, Max: st.Max,
			PerIteration: st.PerIteration, PerMinute: st.PerSecond * 60})
	}
	if quick != nil {
		rep.Categories = append(rep.Categories, quick.growth(sc.warmup)...)
	}
	timed := elapsed >= 10*time.Second || sc.duration > 0 || sc.maxPerMinuteSet
	for i := range rep.Categories {
		rep.Categories[i].timed = timed
	}
	var heapGrew bool
	var heapGrowth Growth
	if heap != nil {
		if heapGrowth, heapGrew = heap.growth(); heapGrowth.Key != "" {
			heapGrowth.timed = timed
			if heapGrew {
				rep.Growing = append(rep.Growing, heapGrowth)
			}
		}
	}
	for _, g := range rep.Categories {
		if g.Key == name(heapKind{}) {
			continue // judged by its segments, above
		}
		if !judged(g.Key, base) {
			continue // shown, never a verdict
		}
		if (sc.maxSlopeSet && g.PerIteration > sc.maxSlope) || (sc.maxPerMinuteSet && g.PerMinute > sc.maxPerMinute) {
			rep.Growing = append(rep.Growing, g)
		}
	}
	sortGrowth(rep.Growing)
	// Name the culprits once, under the most specific growing category.
	for i := range rep.Growing {
		if !hasGrowingPart(rep.Growing, rep.Growing[i].Key) {
			rep.Growing[i].Culprits = culprits(end, rep.Growing[i].Key)
		}
	}
	return rep, nil
}

// totals renders a sample's totals for a progress line: "12 fds, 3
// sockets, 9 threads, 5 goroutines".
func totals(c series.Counts) string {
	var parts []string
	for _, k := range kinds {
		if n, ok := c[name(k)]; ok {
			parts = append(parts, plural(n, k.resource()))
		}
	}
	return strings.Join(parts, ", ")
}

// judged reports whether a soak category can fail the soak: the kind it
// belongs to decides (threads that never named themselves are the
// runtime's: Go's Ms come and go with load).
func judged(key string, base *Snapshot) bool {
	res, _, _ := strings.Cut(key, "/")
	for _, k := range kinds {
		if j, ok := k.(judge); ok && name(k) == res {
			return j.judged(key, base)
		}
	}
	return true
}

// quick is the per-iteration total of a soak, from the kind that offers
// one: every descriptor, with one system call.
type quick struct {
	key    string
	covers Resource
	tally  func() (int, error)
	quickSeries
}

func quickTally(cfg *config) *quick {
	for _, k := range kinds {
		if t, ok := k.(tallier); ok && cfg.resources&t.tallyCovers() != 0 {
			tgt := cfg.target
			return &quick{key: t.tallyKey(), covers: t.tallyCovers(), tally: func() (int, error) {
				n, err := t.tally(tgt)
				return n, tgt.err(err)
			}}
		}
	}
	return nil
}

func (q *quick) sample(i int, sec float64) error {
	n, err := q.tally()
	if err != nil {
		return fmt.Errorf("leakcheck: %w", err)
	}
	q.add(i, sec, n)
	return nil
}

// growth fits the per-iteration totals, at iteration resolution even when
// the per-category samples are few.
func (q *quick) growth(warmup float64) []Growth {
	n := len(q.iters)
	if n < 2 {
		return nil
	}
	skip := int(float64(n) * warmup)
	if n-skip < 2 {
		skip = n - 2
	}
	g := Growth{Key: q.key, Start: int(q.fds[skip]), End: int(q.fds[n-1])}
	for _, v := range q.fds {
		g.Max = max(g.Max, int(v))
	}
	if s, ok := slope.TheilSen(q.iters[skip:], q.fds[skip:]); ok {
		g.PerIteration = s
	}
	if s, ok := slope.TheilSen(q.times[skip:], q.fds[skip:]); ok {
		g.PerMinute = s * 60
	}
	return []Growth{g}
}

// culprits returns the items of the end report that belong to category
// key ("sockets/tcp CLOSE_WAIT", "threads", or a per-iteration total such
// as "all fds"). A goroutine culprit is named by its group, the function
// it is blocked in and its creator.
func culprits(end *Report, key string) []Item {
	res, group, _ := strings.Cut(key, "/")
	covers := Resource(0)
	for _, k := range kinds {
		if t, ok := k.(tallier); ok && t.tallyKey() == key {
			covers, group = t.tallyCovers(), ""
		}
	}
	var out []Item
	for _, c := range end.Categories {
		if covers != 0 {
			if c.Resource&covers == 0 {
				continue
			}
		} else if c.Resource.String() != res {
			continue
		}
		_, byGroup := kindOf(c.Resource).(countFirst)
		for _, g := range c.Groups {
			if group != "" && g.Key != group {
				continue
			}
			for _, it := range g.Items {
				if byGroup {
					it.Text = g.Key
				}
				out = append(out, it)
			}
		}
	}
	return out
}

// soakProgressEvery sets how often a soak logs progress (test-only).
func soakProgressEvery(d time.Duration) Option {
	return option{"soakProgressEvery", anywhere, func(c *config) { c.soak.progressEvery = d }}
}

// sortGrowth orders categories by slope, steepest first, and at equal
// slopes the most specific ("sockets/tcp CLOSE_WAIT") before its total.
func sortGrowth(gs []Growth) {
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if d := a.PerIteration - b.PerIteration; d > 0.005 || d < -0.005 {
			return d > 0
		}
		return strings.Count(a.Key, "/") > strings.Count(b.Key, "/") || (a.Key != "all fds" && b.Key == "all fds")
	})
}

// hasGrowingPart reports whether a category inside total key (a kind,
// class or name under it; for "all fds" any fds or sockets category) is
// growing too.
func hasGrowingPart(gs []Growth, key string) bool {
	for _, g := range gs {
		switch {
		case g.Key == key:
		case key == "all fds" && (strings.HasPrefix(g.Key, "fds") || strings.HasPrefix(g.Key, "sockets")):
			return true
		case strings.HasPrefix(g.Key, key+"/"):
			return true
		}
	}
	return false
}

func (s *SoakReport) artifacts() map[string]func(string) error {
	return map[string]func(string) error{"soak.json": s.WriteJSON, "soak.svg": s.WriteSVG}
}

func (s *SoakReport) unchecked() []string { return s.End.unchecked() }
func (s *SoakReport) failed() bool        { return s.Leaked() }
