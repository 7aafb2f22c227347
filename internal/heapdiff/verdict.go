package heapdiff

// Retains reports whether every round retained more than its allowance:
// retained[i] > tolerance×n + slack for each i, retained holding the live
// heap bytes each round of n cycles left behind. No rounds retain nothing.
//
// Asking every round, not their sum or mean, is what keeps a one-off from
// failing a test: a round that happened to start a thread or fill a cache
// is followed by one that did not.
func Retains(retained []int64, n int, tolerance float64, slack int64) bool {
	if len(retained) == 0 {
		return false
	}
	limit := tolerance*float64(n) + float64(slack)
	for _, r := range retained {
		if float64(r) <= limit {
			return false
		}
	}
	return true
}

// Ignore is a named rule for allocation sites that are nobody's leak.
type Ignore struct {
	Name   string // shown with each site it ignored: "testing bookkeeping"
	Reason string // why such a site is not the code under test's leak
	Match  func(Site) bool
}

// Ignored is a site an Ignore rule matched.
type Ignored struct {
	Site Site
	By   string // the rule's Name
}

// DefaultIgnores returns the rules Defaults sets, each with its reason.
func DefaultIgnores() []Ignore {
	return []Ignore{
		{
			Name: "testing bookkeeping",
			Reason: "the testing package keeps a test's t.Log output (printed when the test ends, " +
				"without -v) and its t.Cleanup functions until the test is over: a create step " +
				"that logs a line keeps ~100 bytes there per cycle",
			Match: innermostOutsideRuntime("testing"),
		},
		{
			Name: "runtime thread",
			Reason: "a new OS thread costs 5.5 KiB of heap (its m, g0 and gsignal, and profiling " +
				"stacks) that the runtime never frees; threads are counted by their own kind",
			Match: hasFunction("runtime.allocm"),
		},
	}
}

// innermostOutsideRuntime matches a site whose innermost frame outside
// package runtime is in package pkg.
func innermostOutsideRuntime(pkg string) func(Site) bool {
	return func(s Site) bool {
		for _, f := range s.Stack {
			if p := funcPackage(f.Function); p != "runtime" {
				return p == pkg
			}
		}
		return false
	}
}

// hasFunction matches a site with fn anywhere in its stack.
func hasFunction(fn string) func(Site) bool {
	return func(s Site) bool {
		for _, f := range s.Stack {
			if f.Function == fn {
				return true
			}
		}
		return false
	}
}

// split separates the sites a rule matches from the others, keeping the
// order of each.
func split(sites []Site, rules []Ignore) (kept []Site, ignored []Ignored) {
	for _, s := range sites {
		by := ""
		for _, r := range rules {
			if r.Match != nil && r.Match(s) {
				by = r.Name
				break
			}
		}
		if by == "" {
			kept = append(kept, s)
		} else {
			ignored = append(ignored, Ignored{Site: s, By: by})
		}
	}
	return kept, ignored
}
