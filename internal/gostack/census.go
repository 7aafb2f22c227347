package gostack

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
)

// A Census counts the goroutines of the process by stack, without their
// IDs and without symbolizing anything. Taking one costs about 1µs per
// goroutine and does not stop the world for the whole collection
// (runtime.GoroutineProfile is concurrent since Go 1.19), against several
// µs per goroutine, all of them stopped, for the full text dump.
//
// The calling goroutine is never counted, so a baseline and a later census
// taken from different call sites compare equal when nothing else changed.
//
// What a census cannot see: a goroutine that exits while another with the
// identical stack (same program counters, and same labels for a labeled
// census) starts looks like no change at all. Labeling the checked code with
// a label no baseline goroutine carries (pprof.Do) closes that gap for every
// goroutine it starts, directly or not, because goroutines inherit their
// creator's labels. Stacks deeper than 32 calls are compared by their
// innermost 32 (runtime.StackRecord's limit) in an unlabeled census.
type Census struct {
	total   int
	labeled bool
	groups  map[uint64]*censusGroup
}

type censusGroup struct {
	count  int
	pcs    []uintptr
	labels map[string]string
}

// Len returns how many goroutines the census counted (the caller excluded).
func (c *Census) Len() int { return c.total }

// Labeled reports whether the census tells goroutines apart by their pprof
// labels (TakeLabeledCensus).
func (c *Census) Labeled() bool { return c.labeled }

var recordPool sync.Pool // *[]runtime.StackRecord

// TakeCensus counts the goroutines of the process by stack, from
// runtime.GoroutineProfile.
func TakeCensus() (*Census, error) {
	var recs []runtime.StackRecord
	if p, ok := recordPool.Get().(*[]runtime.StackRecord); ok {
		recs = *p
	}
	for {
		if want := runtime.NumGoroutine() + 64; len(recs) < want {
			recs = make([]runtime.StackRecord, want+want/4)
		}
		n, ok := runtime.GoroutineProfile(recs)
		if ok {
			recs = recs[:cap(recs)]
			c := censusOf(recs[:n])
			recordPool.Put(&recs)
			return c, nil
		}
		recs = make([]runtime.StackRecord, n+n/4+64)
	}
}

func censusOf(recs []runtime.StackRecord) *Census {
	c := &Census{groups: make(map[uint64]*censusGroup)}
	// runtime.GoroutineProfile puts the calling goroutine first.
	for i := 1; i < len(recs); i++ {
		pcs := recs[i].Stack()
		h := hashPCs(pcs)
		g := c.groups[h]
		if g == nil {
			g = &censusGroup{pcs: slices.Clone(pcs)}
			c.groups[h] = g
		}
		g.count++
		c.total++
	}
	return c
}

// hashPCs mixes the program counters of a stack into 64 bits. Two stacks
// that differ collide with probability about 2⁻⁶⁴ per pair.
func hashPCs(pcs []uintptr) uint64 {
	h := uint64(len(pcs))*0x9E3779B97F4A7C15 ^ 0xD6E8FEB86659FD93
	for _, pc := range pcs {
		h ^= uint64(pc)
		h *= 0xBF58476D1CE4E5B9
		h ^= h >> 31
	}
	return h
}

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001B3
	}
	h ^= uint64(len(s))
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>29
}

// TakeLabeledCensus counts the goroutines of the process by stack and pprof
// labels, from the goroutine profile at debug=1 (about twice the cost of
// TakeCensus: the profile symbolizes each distinct stack once).
func TakeLabeledCensus() (*Census, error) {
	var buf bytes.Buffer
	if err := writeProfile(&buf); err != nil {
		return nil, fmt.Errorf("gostack: write goroutine profile: %w", err)
	}
	recs, err := ParseProfile(&buf)
	if err != nil {
		return nil, err
	}
	c := &Census{labeled: true, groups: make(map[uint64]*censusGroup)}
	self := false
	for _, r := range recs {
		n := r.Count
		if !self && frameIn(r.Frames, writeProfileFunc) {
			// The caller: it is inside writeProfile.
			self = true
			n--
		}
		if n <= 0 {
			continue
		}
		h := hashPCs(r.PCs)
		keys := make([]string, 0, len(r.Labels))
		for k := range r.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h = hashString(hashString(h, k), r.Labels[k])
		}
		g := c.groups[h]
		if g == nil {
			g = &censusGroup{pcs: r.PCs, labels: r.Labels}
			c.groups[h] = g
		}
		g.count += n
		c.total += n
	}
	return c, nil
}

// writeProfile writes the goroutine profile at debug=1. It is a function of
// its own so the calling goroutine's record can be told by its frames.
//
//go:noinline
func writeProfile(w io.Writer) error { return pprof.Lookup("goroutine").WriteTo(w, 1) }

var writeProfileFunc = runtime.FuncForPC(reflect.ValueOf(writeProfile).Pointer()).Name()

func frameIn(frames []Frame, fn string) bool {
	for _, f := range frames {
		if f.Func == fn {
			return true
		}
	}
	return false
}

// Grew reports whether c has more goroutines than base with some stack (and
// labels): whether anything may be new since base. See Census for the one
// kind of change it cannot see.
func (c *Census) Grew(base *Census) bool {
	for h, g := range c.groups {
		if b := base.groups[h]; b == nil || g.count > b.count {
			return true
		}
	}
	return false
}

// Same reports whether c and other count the same goroutines for every
// stack (and labels): nothing changed between them that a census can see.
func (c *Census) Same(other *Census) bool {
	return c.total == other.total && len(c.groups) == len(other.groups) && !c.Grew(other) && !other.Grew(c)
}

// Growth returns the stacks that have more goroutines in c than in base,
// symbolized, most grown first. It is empty exactly when Grew is false.
func (c *Census) Growth(base *Census) []Group {
	var out []Group
	for h, g := range c.groups {
		var before int
		if b := base.groups[h]; b != nil {
			before = b.count
		}
		if g.count <= before {
			continue
		}
		out = append(out, Group{
			Frames:    symbolize(g.pcs),
			Labels:    g.labels,
			Count:     g.count - before,
			Total:     g.count,
			truncated: !c.labeled && len(g.pcs) >= len(runtime.StackRecord{}.Stack0),
			labeled:   c.labeled,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].TopFunction() < out[j].TopFunction()
	})
	return out
}

// GroupsWithLabel returns the goroutines of a labeled census that carry
// the pprof label key with a value match accepts, grouped by stack, largest
// group first.
func (c *Census) GroupsWithLabel(key string, match func(value string) bool) []Group {
	var out []Group
	for _, g := range c.groups {
		if v, ok := g.labels[key]; ok && match(v) {
			out = append(out, Group{Frames: symbolize(g.pcs), Labels: g.labels, Count: g.count, Total: g.count, labeled: true})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].TopFunction() < out[j].TopFunction()
	})
	return out
}

// A Group is a set of goroutines with one stack (and label set, from a
// labeled census), without IDs.
type Group struct {
	// Frames are the stack symbolized, innermost first, with the runtime's
	// internal frames left out as a goroutine dump leaves them out, so they
	// compare with Goroutine.Frames.
	Frames []Frame
	Labels map[string]string // nil from an unlabeled census
	Count  int               // goroutines more than in the baseline (Growth), or in the group
	Total  int               // goroutines with this stack in the census

	truncated bool // the stack was cut at runtime.StackRecord's 32 entries
	labeled   bool
}

// TopFunction returns the innermost shown function, as Goroutine.TopFunction.
func (g Group) TopFunction() string { return topFunction(g.Frames) }

// HasFunction reports whether name is a frame of the stack, as
// Goroutine.HasFunction.
func (g Group) HasFunction(name string) bool { return hasFunction(g.Frames, name) }

// Goroutine returns the group as a Goroutine without ID, state or creator,
// for filters written against Goroutine. State-dependent filters such as
// RuntimeOwned's testing rules never match it, which keeps a fast check
// conservative: the full dump decides.
func (g Group) Goroutine() Goroutine {
	return Goroutine{Frames: g.Frames, Labels: g.Labels}
}

// Matches reports whether goroutine d of a text dump has this group's stack:
// the same functions, files and lines (a prefix of d's, when the census cut
// the stack), and the same labels when both sides know them.
func (g Group) Matches(d Goroutine) bool {
	if g.labeled && d.Labels != nil && !sameLabels(g.Labels, d.Labels) {
		return false
	}
	if d.Elided != 0 || g.truncated {
		if len(d.Frames) < len(g.Frames) {
			return false
		}
	} else if len(d.Frames) != len(g.Frames) {
		return false
	}
	for i, f := range g.Frames {
		df := d.Frames[i]
		if f.Func != df.Func || f.Line != df.Line || f.File != df.File {
			return false
		}
	}
	return true
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// String returns "N × top function" and the frames, one per line.
func (g Group) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d × %s", g.Count, g.TopFunction())
	if len(g.Labels) > 0 {
		b.WriteByte(' ')
		b.WriteString(formatLabels(g.Labels))
	}
	b.WriteByte('\n')
	writeFrames(&b, g.Frames, 0, 0)
	return b.String()
}

// symbolize turns return PCs into the frames a goroutine dump would show.
func symbolize(pcs []uintptr) []Frame {
	var out []Frame
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if shownInTraceback(f.Function) {
			out = append(out, Frame{Func: f.Function, File: f.File, Line: f.Line})
		}
		if !more {
			break
		}
	}
	return out
}

// shownInTraceback mirrors the runtime's rule for which frames a goroutine
// dump prints at the default GOTRACEBACK level: qualified names, except the
// unexported functions of package runtime (runtime.gopark, runtime.goexit).
func shownInTraceback(fn string) bool {
	if !strings.Contains(fn, ".") {
		return false
	}
	name, ok := strings.CutPrefix(fn, "runtime.")
	if !ok {
		return true
	}
	// Exported functions (runtime.Goexit) and exported methods of exported
	// types (runtime.(*Func).Name) are shown.
	rcvr := ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		rcvr, name = name[:i], name[i+1:]
		if len(rcvr) >= 3 && rcvr[0] == '(' && rcvr[1] == '*' && rcvr[len(rcvr)-1] == ')' {
			rcvr = rcvr[2 : len(rcvr)-1]
		}
	}
	upper := func(s string) bool { return s != "" && 'A' <= s[0] && s[0] <= 'Z' }
	return upper(name) && (rcvr == "" || upper(rcvr))
}
