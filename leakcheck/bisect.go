package leakcheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// When VerifyTestMain finds leaks that neither origins nor labels name a
// test for, it runs the test binary again, once per top-level test
// (-test.run=^Name$), and says which tests leak when run alone: goleak's
// "bisect with a shell loop", done for the user and bounded in time.

// DefaultBisectBudget bounds the re-runs of VerifyTestMain's bisection.
const DefaultBisectBudget = time.Minute

// bisectChildEnv marks a re-run: it checks as usual and does not bisect.
const bisectChildEnv = "LEAKCHECK_BISECT_CHILD"

// WithBisect sets how long VerifyTestMain may spend re-running tests one
// by one to name the ones that leak (DefaultBisectBudget); 0 turns the
// re-runs off.
func WithBisect(budget time.Duration) Option {
	return option{fmt.Sprintf("WithBisect(%v)", budget), inVerifyTestMain, func(c *config) {
		if budget < 0 {
			c.misusef("WithBisect(%v): the budget cannot be negative", budget)
			return
		}
		c.bisect, c.bisectSet = budget, true
	}}
}

// needsBisect reports whether some leaked item names no test.
func needsBisect(r *Report) bool {
	for _, c := range r.Categories {
		for _, g := range c.Groups {
			for _, it := range g.Items {
				if it.test == "" {
					return true
				}
			}
		}
	}
	return false
}

// bisectResult is what the re-runs found.
type bisectResult struct {
	leaky   []string // "TestB: 2 fds, 1 goroutine"
	ran     int
	total   int
	elapsed time.Duration
	budget  time.Duration
	err     error
}

func (b bisectResult) String() string {
	var s strings.Builder
	if b.err != nil {
		fmt.Fprintf(&s, "leakcheck: could not re-run the tests one by one: %v", b.err)
		return s.String()
	}
	fmt.Fprintf(&s, "leakcheck: the top-level tests run alone, one test binary each (%d of %d in %s", b.ran, b.total, b.elapsed.Round(100*time.Millisecond))
	if b.ran < b.total {
		fmt.Fprintf(&s, "; the budget of %s ran out, WithBisect sets it", b.budget)
	}
	s.WriteString("):")
	if len(b.leaky) == 0 {
		s.WriteString(" none leaks alone; the leak needs several tests together (or the order they ran in)")
	}
	for _, l := range b.leaky {
		s.WriteString("\n  leaks alone: " + l)
	}
	return s.String()
}

// bisect re-runs the test binary once per top-level test.
func bisect(budget time.Duration) bisectResult {
	start := time.Now()
	res := bisectResult{budget: budget}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	list := exec.CommandContext(ctx, os.Args[0], "-test.list=^Test")
	// Every re-run, the listing included, is a child: its TestMain checks
	// but never bisects again (a leak TestMain itself holds would recurse).
	list.Env = append(os.Environ(), bisectChildEnv+"=1")
	out, err := list.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(out) > 0 {
		err = nil // the listing's own TestMain found the leak too: the list stands
	}
	if err != nil {
		res.err = fmt.Errorf("listing the tests: %w", err)
		return res
	}
	var tests []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); strings.HasPrefix(name, "Test") {
			tests = append(tests, name)
		}
	}
	res.total = len(tests)
	for _, name := range tests {
		if ctx.Err() != nil {
			break
		}
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+regexp.QuoteMeta(name)+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), bisectChildEnv+"=1")
		out, _ := cmd.CombinedOutput()
		if ctx.Err() != nil {
			break // cut short: not a verdict
		}
		res.ran++
		// "leakcheck: errors on successful test run:" then the summary.
		if i := bytes.Index(out, []byte("leakcheck: errors on ")); i >= 0 {
			rest := string(out[i:])
			if _, after, ok := strings.Cut(rest, "\n"); ok {
				summary, _, _ := strings.Cut(after, "\n")
				res.leaky = append(res.leaky, name+": "+strings.TrimPrefix(summary, "leakcheck: "))
			}
		}
	}
	res.elapsed = time.Since(start)
	return res
}
