package leakcheck

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CycleReport is what a create-many/delete-many cycle found: what n creates
// held, and what was left once they were all destroyed.
type CycleReport struct {
	N        int     // how many objects were created and destroyed
	Created  *Report // what the n live objects held, relative to the baseline
	Retained *Report // what was left after destroying them and settling
}

// Leaked reports whether anything beyond the tolerances was retained.
func (c *CycleReport) Leaked() bool { return c.Retained.Leaked() }

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
	if ig := ignoredNote(c.Retained.Ignored); ig != "" {
		b.WriteString(" " + ig)
	}
	body := c.Retained.String()
	if i := strings.IndexByte(body, '\n'); i >= 0 && c.Retained.Leaked() {
		b.WriteString(body[i:])
	}
	for _, u := range c.Created.Unchecked {
		if !strings.Contains(b.String(), u) {
			b.WriteString("\nnote: " + u)
		}
	}
	return b.String()
}

// costLine renders per-object counts: "+28 fds (1 eventpoll, 26 eventfd,
// 1 socket), +3 goroutines". Sockets are descriptors too, so they are part
// of the fd total, as a user counting /proc/PID/fd sees them.
func costLine(per map[string]float64, cats []Category, plus bool) string {
	sign := ""
	if plus {
		sign = "+"
	}
	var parts []string
	fds := per["fds"] + per["sockets"]
	if fds > 0 {
		var kinds []string
		for _, c := range cats {
			if c.Resource != FDs {
				continue
			}
			for _, g := range c.Groups {
				kinds = append(kinds, num(per["fds/"+g.Key])+" "+g.Key)
			}
		}
		if per["sockets"] > 0 {
			noun := "socket"
			if per["sockets"] != 1 {
				noun = "sockets"
			}
			kinds = append(kinds, num(per["sockets"])+" "+noun)
		}
		noun := "fds"
		if fds == 1 {
			noun = "fd"
		}
		parts = append(parts, fmt.Sprintf("%s%s %s (%s)", sign, num(fds), noun, strings.Join(kinds, ", ")))
	}
	for _, r := range []Resource{Goroutines, Threads} {
		if v := per[r.String()]; v > 0 {
			noun := r.String()
			if v == 1 {
				noun = strings.TrimSuffix(noun, "s")
			}
			parts = append(parts, fmt.Sprintf("%s%s %s", sign, num(v), noun))
		}
	}
	return strings.Join(parts, ", ")
}

// num renders a per-object count: whole numbers plainly, others with two
// decimals at most.
func num(v float64) string {
	return strconv.FormatFloat(float64(int64(v*100+0.5))/100, 'f', -1, 64)
}

func ignoredNote(ig []Ignored) string {
	if len(ig) == 0 {
		return ""
	}
	var parts []string
	for _, i := range ig {
		parts = append(parts, fmt.Sprintf("%d %s", i.Count, i.What))
	}
	return "(" + strings.Join(parts, ", ") + " ignored)"
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
	cfg := newConfig(opts)
	if n < 1 {
		cfg.misuse = append(cfg.misuse, fmt.Sprintf("cycle count %d: create at least one object", n))
	}
	if createAll == nil || destroyAll == nil {
		cfg.misuse = append(cfg.misuse, "a cycle needs both a create and a destroy step")
	}
	if cfg.cleanup != nil {
		cfg.misuse = append(cfg.misuse, "Cleanup is for VerifyNone and VerifyTestMain, not cycles")
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
	return &CycleReport{N: n, Created: created, Retained: retained}, nil
}

// Cycle runs the create-many/delete-many pattern in a test and fails it
// when destroying the objects does not give back what creating them took.
// create makes one object and returns the function that destroys it; Cycle
// calls it n times, then every destroy function, most recent first:
//
//	rep := leakcheck.Cycle(t, 200, func() func() {
//		f, err := proxy.Forward("127.0.0.1:0", backend)
//		require.NoError(t, err)
//		return func() { proxy.Delete(f) }
//	})
//	t.Logf("per create: %v", rep.PerCreate())
//
// See FindCycle for the steps (a warm-up cycle comes first). The report is
// returned for assertions and logged; on a leak the test fails with it.
// Use CycleAll for code that is created and torn down in bulk.
func Cycle(t testing.TB, n int, create func() (destroy func()), opts ...Option) *CycleReport {
	t.Helper()
	var destroys []func()
	createAll := func(k int) error {
		for range k {
			d := create()
			if d == nil {
				return errors.New("the create step returned a nil destroy function")
			}
			destroys = append(destroys, d)
		}
		return nil
	}
	destroyAll := func() error {
		for i := len(destroys) - 1; i >= 0; i-- {
			destroys[i]()
		}
		destroys = destroys[:0]
		return nil
	}
	if create == nil {
		createAll = nil
	}
	return cycleTB(t, n, createAll, destroyAll, opts)
}

// CycleAll is Cycle for code that is created and destroyed in bulk:
// createAll(k) creates k objects, destroyAll destroys every object created.
func CycleAll(t testing.TB, n int, createAll func(n int), destroyAll func(), opts ...Option) *CycleReport {
	t.Helper()
	var ca func(int) error
	var da func() error
	if createAll != nil {
		ca = func(k int) error { createAll(k); return nil }
	}
	if destroyAll != nil {
		da = func() error { destroyAll(); return nil }
	}
	return cycleTB(t, n, ca, da, opts)
}

func cycleTB(t testing.TB, n int, createAll func(int) error, destroyAll func() error, opts []Option) *CycleReport {
	t.Helper()
	cfg := newConfig(opts)
	if n < 1 {
		cfg.misuse = append(cfg.misuse, fmt.Sprintf("Cycle(t, %d, …): create at least one object", n))
	}
	if createAll == nil || destroyAll == nil {
		cfg.misuse = append(cfg.misuse, "Cycle needs a create step and a destroy step; got nil")
	}
	if cfg.cleanup != nil {
		cfg.misuse = append(cfg.misuse, "Cleanup is for VerifyNone and VerifyTestMain, not cycles")
	}
	if err := cfg.err(); err != nil {
		t.Errorf("%v", err)
		return nil
	}
	labelTestGoroutine(t.Name())
	rep, err := runCycle(cfg, n, createAll, destroyAll, testDeadline(t, cfg.timeout))
	if err != nil {
		t.Errorf("leakcheck: %v", err)
		return nil
	}
	summary, _, _ := strings.Cut(rep.String(), "\n")
	t.Attr("leakcheck", strings.TrimPrefix(summary, "leakcheck: "))
	writeArtifacts(t, rep.Retained)
	if rep.Leaked() {
		t.Errorf("%s", rep)
	} else {
		t.Logf("%s", summary)
	}
	return rep
}
