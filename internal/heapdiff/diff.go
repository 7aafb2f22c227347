package heapdiff

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// Site is an allocation stack whose memory in use grew between two
// profiles.
type Site struct {
	Bytes   int64 // growth in bytes in use, counted at size class
	Objects int64 // growth in objects in use (may be 0 or less when fewer, larger objects replaced more)
	// Stack is the allocating call stack, innermost first (runtime.mallocgc
	// and its callers in the runtime included), inlined calls expanded.
	Stack []runtime.Frame
	// User is the innermost frame of Stack in the user's code: the first
	// one the predicate given to Diff accepts. Its Function is "" when no
	// frame is (an allocation the runtime made on its own stack, such as a
	// new goroutine's descriptor).
	User runtime.Frame
}

// String renders "+819200 B in 200 objects at pkg.(*Registry).Add (/src/registry.go:31)".
func (s Site) String() string {
	return fmt.Sprintf("%s in %d %s at %s", signedBytes(s.Bytes), s.Objects, plural(float64(s.Objects), "object"), frameString(s.User))
}

func frameString(f runtime.Frame) string {
	if f.Function == "" {
		return "(no frame in the user's code)"
	}
	return fmt.Sprintf("%s (%s:%d)", f.Function, f.File, f.Line)
}

// Diff returns the allocation stacks whose memory in use grew from before
// to after, most bytes first. user tells the user's code from the rest (the
// standard library, the testing package, a test helper); with nil, every
// frame outside the standard library is the user's.
//
// Allocations made while capturing a profile (the records of before, still
// in use when after is captured) are left out. Both profiles
// must be captured at the same rate: otherwise the counts mean different
// things and Diff returns an error.
//
// A difference is only as good as the sampling: objects allocated before
// the rate was raised are invisible, also when they are freed, so a cache
// that evicted an old entry for a new one between the profiles shows the
// new entry as growth. Compare profiles taken after a warm-up at the raised
// rate, and take the verdict from Sample (exact), not from the profiles.
func Diff(before, after *Profile, user func(runtime.Frame) bool) ([]Site, error) {
	if before == nil || after == nil {
		return nil, fmt.Errorf("heapdiff: Diff needs two profiles, got before=%v after=%v", before != nil, after != nil)
	}
	if before.Rate != after.Rate {
		return nil, fmt.Errorf("heapdiff: Diff of profiles at rates %d and %d: capture both at one rate (see SetRate)", before.Rate, after.Rate)
	}
	if user == nil {
		user = notStd
	}
	base := make(map[string]Record, len(before.Records))
	for _, r := range before.Records {
		base[stackKey(r.Stack)] = r
	}
	var sites []Site
	for _, r := range after.Records {
		b := base[stackKey(r.Stack)]
		grew := r.Bytes - b.Bytes
		if grew <= 0 {
			continue
		}
		frames := expand(r.Stack)
		if own(frames) {
			continue
		}
		s := Site{Bytes: grew, Objects: r.Objects - b.Objects, Stack: frames}
		for _, f := range frames {
			if user(f) {
				s.User = f
				break
			}
		}
		sites = append(sites, s)
	}
	slices.SortStableFunc(sites, func(a, b Site) int {
		return cmp.Or(
			cmp.Compare(b.Bytes, a.Bytes),
			cmp.Compare(b.Objects, a.Objects),
			cmp.Compare(a.User.File, b.User.File),
			cmp.Compare(a.User.Line, b.User.Line),
			cmp.Compare(stackString(a.Stack), stackString(b.Stack)),
		)
	})
	return sites, nil
}

func expand(stk []uintptr) []runtime.Frame {
	var out []runtime.Frame
	frames := runtime.CallersFrames(stk)
	for {
		f, more := frames.Next()
		if f.Function != "" || f.File != "" {
			out = append(out, f)
		}
		if !more {
			return out
		}
	}
}

func stackString(frames []runtime.Frame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "%s %s:%d\n", f.Function, f.File, f.Line)
	}
	return b.String()
}

// captureFunc names the function that allocates a Profile's records and
// Proto, from this package's import path.
var captureFunc = func() string {
	pc, _, _, _ := runtime.Caller(0)
	return funcPackage(runtime.FuncForPC(pc).Name()) + ".capture"
}()

// own reports whether an allocation was made while capturing a profile:
// the records and bytes of the "before" profile are still in use when the
// "after" one is captured, and are nobody's leak.
func own(frames []runtime.Frame) bool {
	for _, f := range frames {
		if f.Function == captureFunc {
			return true
		}
	}
	return false
}

// funcPackage returns the import path of a function name as runtime.Frame
// spells it: "github.com/a/b" for "github.com/a/b.(*T).M.func1", "runtime"
// for "runtime.mallocgc".
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/') + 1
	if dot := strings.IndexByte(fn[slash:], '.'); dot >= 0 {
		return fn[:slash+dot]
	}
	return fn
}

// notStd is the default user predicate: a frame outside the standard
// library, which is every package whose path has no dot in its first
// element, except main. A module path without a dot ("example/app") reads
// as standard library too: pass a predicate for such modules.
func notStd(f runtime.Frame) bool {
	pkg := funcPackage(f.Function)
	if pkg == "" {
		return false
	}
	first, _, _ := strings.Cut(pkg, "/")
	return strings.Contains(first, ".") || pkg == "main"
}

func plural(n float64, noun string) string {
	if n == 1 || n == -1 {
		return noun
	}
	return noun + "s"
}

// signedBytes renders a byte count with a sign, exactly below 10 KiB and
// in binary units above: "+312 B", "+4096 B", "+800.0 KiB", "-1.5 MiB".
func signedBytes(n int64) string {
	sign := "+"
	if n < 0 {
		sign, n = "-", -n
	}
	return sign + formatBytes(float64(n))
}

func formatBytes(v float64) string {
	switch {
	case v < 10<<10:
		return fmt.Sprintf("%.0f B", v)
	case v < 10<<20:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	case v < 10<<30:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", v/(1<<30))
}
