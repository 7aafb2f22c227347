package leakcheck

import (
	"path/filepath"

	"fmt"
	"github.com/leakcheck/go/internal/heapdiff"
	"strconv"
	"strings"
	"time"
)

// CycleReport is what a create-many/delete-many cycle found: what n creates
// held, and what was left once they were all destroyed.
type CycleReport struct {
	N        int     // how many objects were created and destroyed
	Created  *Report // what the n live objects held, relative to the baseline
	Retained *Report // what was left after destroying them and settling
	// Heap is what further rounds of n cycles left on the heap, nil when
	// it was not measured (WithResources without Heap, or a cycle that
	// already retained something else).
	Heap *HeapReport
}

// Leaked reports whether anything beyond the tolerances was retained.
func (c *CycleReport) Leaked() bool { return c.Retained.Leaked() || c.Heap.Leaked() }

// PerCreate returns what one create costs: Created.Counts divided by N,
// keyed like Report.Counts ("fds", "fds/eventfd", "sockets/tcp LISTEN",
// "goroutines").
func (c *CycleReport) PerCreate() map[string]float64 { return perN(c.Created, c.N) }

// PerCycle returns what one create/destroy cycle leaves behind:
// Retained.Counts divided by N.
func (c *CycleReport) PerCycle() map[string]float64 { return perN(c.Retained, c.N) }

func perN(r *Report, n int) map[string]float64 {
	m := make(map[string]float64)
	for k, v := range r.Counts() {
		m[k] = float64(v) / float64(n)
	}
	return m
}

// String renders the cycle the way the incidents behind it read, then the
// retained items grouped as in a Report:
//
//	leakcheck: 200 create/destroy cycles: per create: +28 fds (1 eventpoll, 26 eventfd, 1 socket), +3 goroutines; after destroy: retained per cycle: 27 fds (1 eventpoll, 26 eventfd)
//	fds (5400):
//	  eventfd (5200):
//	  …
func (c *CycleReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leakcheck: %d create/destroy cycles", c.N)
	if c.Created.Target != "this process" {
		b.WriteString(" of " + c.Created.Target)
	}
	b.WriteString(": per create: ")
	if created := costLine(c.PerCreate(), c.Created.Categories, true); created != "" {
		b.WriteString(created)
	} else {
		b.WriteString("nothing")
	}
	b.WriteString("; after destroy: ")
	if retained := costLine(c.PerCycle(), c.Retained.Categories, false); retained != "" {
		b.WriteString("retained per cycle: " + retained)
	} else {
		b.WriteString("nothing retained")
	}
	if c.Heap.Leaked() {
		bytes, objects := c.Heap.PerCycle()
		fmt.Fprintf(&b, "; heap retained per cycle: %.0f B in %s objects", bytes, num(objects))
	}
	if ig := ignoredNote(c.Retained.Ignored); ig != "" {
		b.WriteString(" " + ig)
	}
	body := c.Retained.String()
	if i := strings.IndexByte(body, '\n'); i >= 0 && c.Retained.Leaked() {
		b.WriteString(body[i:])
	}
	if c.Heap != nil {
		b.WriteString("\n" + c.Heap.String())
	}
	for _, u := range c.Created.Unchecked {
		if !strings.Contains(b.String(), u) {
			b.WriteString("\nnote: " + u)
		}
	}
	return b.String()
}

// costLine renders per-object counts: "+28 fds (1 eventpoll, 26 eventfd,
// 1 socket), +3 goroutines". A kind counted as part of another (sockets
// are descriptors too, as a user counting /proc/PID/fd sees them) adds to
// that kind's total and shows in its breakdown. Descriptor-holding kinds
// come first: they are what the incidents count.
func costLine(per map[string]float64, cats []Category, plus bool) string {
	sign := ""
	if plus {
		sign = "+"
	}
	type line struct {
		total float64
		parts []string
	}
	lines := map[Resource]*line{}
	into := func(r Resource) Resource {
		if p, ok := kindOf(r).(costPart); ok {
			return p.costOf()
		}
		return r
	}
	for _, k := range kinds {
		r := k.resource()
		v := per[name(k)]
		if v <= 0 {
			continue
		}
		l := lines[into(r)]
		if l == nil {
			l = &line{}
			lines[into(r)] = l
		}
		l.total += v
		if into(r) != r {
			one, many := k.names()
			l.parts = append(l.parts, num(v)+" "+pick(v, one, many))
			continue
		}
		for _, c := range cats {
			if c.Resource != r || !hasCostParts(r) {
				continue
			}
			for _, g := range c.Groups {
				l.parts = append(l.parts, num(per[name(k)+"/"+g.Key])+" "+g.Key)
			}
		}
	}
	var out []string
	for _, first := range []bool{true, false} {
		for _, k := range kinds {
			r := k.resource()
			l := lines[r]
			if l == nil || hasCostParts(r) != first {
				continue
			}
			out = append(out, costText(k, l.total, l.parts, sign))
		}
	}
	return strings.Join(out, ", ")
}

func costText(k kind, total float64, parts []string, sign string) string {
	one, many := k.names()
	s := fmt.Sprintf("%s%s %s", sign, num(total), pick(total, one, many))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// hasCostParts reports whether a cost line breaks kind r down by group:
// the kinds that others are part of (descriptors, by kind).
func hasCostParts(r Resource) bool {
	for _, k := range kinds {
		if p, ok := k.(costPart); ok && p.costOf() == r {
			return true
		}
	}
	return false
}

func pick(v float64, one, many string) string {
	if v == 1 {
		return one
	}
	return many
}

// num renders a per-object count: whole numbers plainly, others with two
// decimals at most.
func num(v float64) string {
	return strconv.FormatFloat(float64(int64(v*100+0.5))/100, 'f', -1, 64)
}

// FindCycle runs the create-many/delete-many pattern and reports what one
// create costs and what one cycle leaves behind:
//
//  1. one warm-up createAll(1) and destroyAll(), so one-time initialisation
//     (a lazily started global worker, a pool's first dial) is not counted
//     as a per-cycle leak;
//  2. a baseline;
//  3. createAll(n), then a look: CycleReport.Created;
//  4. destroyAll(), then a check that settles as Find does: Retained.
//
// An error from createAll or destroyAll stops the cycle and is returned.
// Cycle is the testing.TB form.
func FindCycle(n int, createAll func(n int) error, destroyAll func() error, opts ...Option) (*CycleReport, error) {
	cfg := newConfig(inCycle, opts)
	if n < 1 {
		cfg.misusef("cycle count %d: create at least one object", n)
	}
	if createAll == nil || destroyAll == nil {
		cfg.misusef("a cycle needs both a create and a destroy step")
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	return runCycle(cfg, n, createAll, destroyAll, time.Time{})
}

func runCycle(cfg *config, n int, createAll func(int) error, destroyAll func() error, deadline time.Time) (*CycleReport, error) {
	if err := createAll(1); err != nil {
		return nil, fmt.Errorf("leakcheck: warm-up create: %w", err)
	}
	if err := destroyAll(); err != nil {
		return nil, fmt.Errorf("leakcheck: warm-up destroy: %w", err)
	}
	base, err := take(cfg, baselineLook)
	if err != nil {
		return nil, err
	}
	if err := createAll(n); err != nil {
		return nil, fmt.Errorf("leakcheck: create: %w", err)
	}
	// What the live objects hold: one look, no waiting, with details.
	created, err := lookOnce(cfg, base)
	if err != nil {
		return nil, err
	}
	if err := destroyAll(); err != nil {
		return nil, fmt.Errorf("leakcheck: destroy: %w", err)
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(cfg.timeout)
	}
	c := &check{cfg: cfg, base: base, deadline: deadline}
	retained, err := c.run()
	if err != nil {
		return nil, err
	}
	rep := &CycleReport{N: n, Created: created, Retained: retained}
	switch {
	case cfg.resources&Heap == 0:
	case len(retained.Incomplete) > 0 || retained.Count(AllResources&^Goroutines) > 0:
		// More rounds would leak more of what the operating system
		// limits (descriptors, threads, processes); the heap waits for
		// a fix. Leaked goroutines are cheap: the heap is measured.
		retained.Unchecked = append(retained.Unchecked, "heap not measured: the cycle already retains "+summaryOf(retained))
	default:
		round := func() error {
			if err := createAll(n); err != nil {
				return fmt.Errorf("create: %w", err)
			}
			return destroyAll()
		}
		res, err := heapRounds(cfg, n, round)
		if err != nil {
			return nil, err
		}
		rep.Heap = &HeapReport{r: res}
	}
	return rep, nil
}

// summaryOf is a report's counts in words: "2 fds, 1 goroutine".
func summaryOf(r *Report) string {
	var parts []string
	for _, c := range r.Categories {
		parts = append(parts, plural(c.Count(), c.Resource))
	}
	return strings.Join(parts, ", ")
}

// HeapReport is what rounds of create/destroy cycles left on the live
// heap, measured after collections: a leak only when every round retained
// more than the tolerance, with the allocation sites that kept it.
type HeapReport struct{ r *heapdiff.Result }

// Leaked reports whether every round retained more than the tolerance.
func (h *HeapReport) Leaked() bool { return h != nil && h.r.Leaked() }

// PerCycle returns the live heap one cycle leaves behind: bytes and
// objects, the median of the rounds.
func (h *HeapReport) PerCycle() (bytes, objects float64) { return h.r.PerCycle() }

// String renders the rounds, and on a leak the allocation sites with
// their first frame in the user's code:
//
//	heap: retained 4 KiB and 1 object per cycle (rounds of 200 cycles: …)
//	  4 KiB in 1 object per cycle at registry.(*Registry).Add registry.go:31
func (h *HeapReport) String() string { return h.r.String() }

func (c *CycleReport) artifacts() map[string]func(string) error {
	files := c.Retained.artifacts()
	if c.Heap.Leaked() && c.Heap.r.Profiled != nil {
		if files == nil {
			files = map[string]func(string) error{}
		}
		// heap-before.pb.gz and heap-after.pb.gz, for go tool pprof -diff_base.
		files["heap-profiles"] = func(path string) error {
			_, _, err := c.Heap.r.Profiled.WriteProfiles(filepath.Dir(path))
			return err
		}
	}
	return files
}
func (c *CycleReport) unchecked() []string { return c.Retained.unchecked() }
func (c *CycleReport) failed() bool        { return c.Retained.failed() || c.Heap.Leaked() }
