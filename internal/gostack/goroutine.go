package gostack

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Goroutine is one goroutine of a dump, as the runtime printed it.
type Goroutine struct {
	ID uint64

	// State is the runtime's wait reason or status, e.g. "chan receive",
	// "IO wait", "running", "select (no cases)". The markers the runtime
	// appends to it, " (leaked)", " (scan)" and " (durable)", are removed
	// and reported in the fields below instead, so "chan receive (durable)"
	// reads as State "chan receive" with Durable set.
	State string

	// Wait is how long the goroutine has been blocked, at the runtime's
	// resolution of whole minutes ("3 minutes"); zero when not printed.
	Wait time.Duration

	Leaked         bool   // " (leaked)": found by the Go 1.26+ goroutine leak detector
	Scan           bool   // " (scan)": the GC was scanning its stack at dump time
	Durable        bool   // " (durable)": durably blocked inside a synctest bubble
	LockedToThread bool   // ", locked to thread": runtime.LockOSThread is in effect
	Bubble         uint64 // ", synctest bubble N"; 0 outside a bubble

	// Labels are the goroutine's pprof labels, printed only with
	// GODEBUG=tracebacklabels=1 (Go 1.26, in the brackets as labels:{...})
	// or by default from Go 1.27 (after the brackets as {k: v}); nil if none.
	Labels map[string]string

	// Extra holds header annotations this parser does not know, verbatim,
	// in the order printed, so a newer runtime's additions are kept rather
	// than rejected.
	Extra []string

	// Frames are the goroutine's live frames, innermost first. They never
	// include the "created by" frame, which is Creator.
	Frames []Frame

	// Elided is how many frames the runtime left out of the middle of a deep
	// stack ("...N frames elided..."), or ElidedUnknown for the older
	// "...additional frames elided..." marker. Zero when nothing was left out.
	Elided int
	// elidedAt is the index of Frames before which the runtime printed the
	// elision marker.
	elidedAt int

	// Creator is the "created by" frame (Creator.CreatedBy is true), and
	// CreatorID the goroutine that ran it ("in goroutine 7"); both are zero
	// for the main goroutine and runtime-created goroutines.
	Creator   Frame
	CreatorID uint64

	// Raw is the goroutine's text exactly as printed, header included,
	// without the trailing blank line. Goroutines that did not come from a
	// text dump (see Group.Goroutine) have an empty Raw.
	Raw string
}

// ElidedUnknown is Goroutine.Elided when the runtime said frames were elided
// without saying how many.
const ElidedUnknown = -1

// Frame is one function call of a stack.
type Frame struct {
	// Func is the function as the runtime prints it, e.g. "main.worker",
	// "net/http.(*persistConn).readLoop", "main.park[...]". Arguments and the
	// "created by " prefix are not part of it.
	Func string
	File string // source file, as printed (absolute for most builds)
	Line int

	// CreatedBy reports whether this is the "created by" frame: the go
	// statement that started the goroutine, which runs in another goroutine.
	CreatedBy bool
}

// String returns "func file:line", or just the function when the position is
// unknown.
func (f Frame) String() string {
	if f.File == "" {
		return f.Func
	}
	return f.Func + " " + f.File + ":" + strconv.Itoa(f.Line)
}

// TopFunction returns the innermost function of the stack, "" when the stack
// has no frames. It is what goleak's IgnoreTopFunction compares.
func (g Goroutine) TopFunction() string { return topFunction(g.Frames) }

// HasFunction reports whether name is any frame of the stack, compared as
// goleak's IgnoreAnyFunction does: an exact match of the printed function
// name, not counting the "created by" frame.
func (g Goroutine) HasFunction(name string) bool { return hasFunction(g.Frames, name) }

// Exiting reports whether the goroutine's function has returned and it is
// on its way out: a dump taken at that moment shows only the runtime's
// exit path (runtime.goexit1, runtime.goexit0).
func (g Goroutine) Exiting() bool {
	if len(g.Frames) == 0 {
		return false
	}
	for _, f := range g.Frames {
		if !strings.HasPrefix(f.Func, "runtime.goexit") {
			return false
		}
	}
	return true
}

// CreatedBy returns the function whose go statement started the goroutine,
// "" when unknown. It is what goleak's IgnoreCreatedBy compares.
func (g Goroutine) CreatedBy() string { return g.Creator.Func }

func topFunction(frames []Frame) string {
	if len(frames) == 0 {
		return ""
	}
	return frames[0].Func
}

func hasFunction(frames []Frame, name string) bool {
	for _, f := range frames {
		if f.Func == name {
			return true
		}
	}
	return false
}

// header returns the bracketed part of a goroutine header, normalised:
// "chan receive (durable), 3 minutes, locked to thread".
func (g Goroutine) header() string {
	var b strings.Builder
	b.WriteString(g.State)
	if b.Len() == 0 {
		b.WriteString("?")
	}
	if g.Leaked {
		b.WriteString(" (leaked)")
	}
	if g.Scan {
		b.WriteString(" (scan)")
	}
	if g.Durable {
		b.WriteString(" (durable)")
	}
	if m := int64(g.Wait / time.Minute); m > 0 {
		fmt.Fprintf(&b, ", %d minutes", m)
	}
	if g.LockedToThread {
		b.WriteString(", locked to thread")
	}
	if g.Bubble != 0 {
		fmt.Fprintf(&b, ", synctest bubble %d", g.Bubble)
	}
	for _, e := range g.Extra {
		b.WriteString(", ")
		b.WriteString(e)
	}
	return b.String()
}

func formatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIfNeeded(k))
		b.WriteString(": ")
		b.WriteString(quoteIfNeeded(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// quoteIfNeeded quotes s unless it only has characters that need no quoting,
// the rule Go 1.27's traceback uses for labels.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !isBareLabelRune(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func isBareLabelRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		r == '.' || r == '/' || r == '_'
}

// Summary returns one line naming the goroutine, where it is blocked and what
// started it:
//
//	goroutine 42 [chan receive, 3 minutes]: main.worker, created by main.start
func (g Goroutine) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "goroutine %d [%s]", g.ID, g.header())
	if len(g.Labels) > 0 {
		b.WriteByte(' ')
		b.WriteString(formatLabels(g.Labels))
	}
	b.WriteString(": ")
	if top := g.TopFunction(); top != "" {
		b.WriteString(top)
	} else {
		b.WriteString("(no frames)")
	}
	if c := g.CreatedBy(); c != "" {
		b.WriteString(", created by ")
		b.WriteString(c)
	}
	return b.String()
}

// String returns the goroutine as a person reads it: the header in the
// runtime's Go 1.27 form, then one indented line per frame with its position,
// then the creator.
func (g Goroutine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "goroutine %d [%s]", g.ID, g.header())
	if len(g.Labels) > 0 {
		b.WriteByte(' ')
		b.WriteString(formatLabels(g.Labels))
	}
	b.WriteString(":\n")
	writeFrames(&b, g.Frames, g.Elided, g.elidedAt)
	if g.Creator.Func != "" {
		b.WriteString("    created by ")
		b.WriteString(g.Creator.Func)
		if g.CreatorID != 0 {
			fmt.Fprintf(&b, " in goroutine %d", g.CreatorID)
		}
		b.WriteByte('\n')
		if g.Creator.File != "" {
			fmt.Fprintf(&b, "        %s:%d\n", g.Creator.File, g.Creator.Line)
		}
	}
	return b.String()
}

func writeFrames(b *strings.Builder, frames []Frame, elided, at int) {
	for i, f := range frames {
		if elided != 0 && i == at {
			writeElided(b, elided)
		}
		b.WriteString("    ")
		b.WriteString(f.Func)
		b.WriteByte('\n')
		if f.File != "" {
			fmt.Fprintf(b, "        %s:%d\n", f.File, f.Line)
		}
	}
	if elided != 0 && (at >= len(frames) || at < 0) {
		writeElided(b, elided)
	}
}

func writeElided(b *strings.Builder, elided int) {
	if elided == ElidedUnknown {
		b.WriteString("    ...additional frames elided...\n")
		return
	}
	fmt.Fprintf(b, "    ...%d frames elided...\n", elided)
}
