package leakcheck

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakcheck/go/internal/gostack"
)

// Report is what a check found: one Category per leaked resource, each
// grouped so the culprit stands out. A Report with no categories is clean.
type Report struct {
	Target     string        // "this process" or "pid 4242"
	Waited     time.Duration // how long the check waited for teardown to settle
	Categories []Category    // in the order goroutines, fds, sockets, threads, processes
	Ignored    []Ignored     // what appeared but is never a leak (the runtime's own, …)
	Unchecked  []string      // resources that could not be checked, and why
	// Incomplete holds the resources the verdict could not read (a full
	// descriptor table, an unreadable /proc): the report shows the rest,
	// and a test fails, since a leak there would go unseen.
	Incomplete []string

	tolerance map[Resource]int
	dump      string   // full stacks and snapshots, for artifacts
	notes     []string // for a person: how to get origins, …
}

// details returns the full goroutine stacks and snapshots behind the report.
func (r *Report) details() string { return r.dump }

// Category is one leaked resource, its items grouped.
type Category struct {
	Resource Resource
	Groups   []Group // largest first
}

// Group is leaked items that share a culprit: a goroutine's function and
// creator, a descriptor kind, a socket's protocol and state, a thread name,
// a child's command.
type Group struct {
	Key   string // "net/http.(*persistConn).readLoop [select], created by net/http.(*Transport).dialConn", "eventfd", "tcp CLOSE_WAIT"
	Items []Item
}

// Item is one leaked thing.
type Item struct {
	Resource Resource
	ID       uint64 // the goroutine's ID, the descriptor's number, the thread's TID, the child's pid
	Text     string // what it is, without the number: "eventfd (count 0)", "tcp 127.0.0.1:80 → 127.0.0.1:5000 CLOSE_WAIT"
	// Origin is where the item was created, when that is known:
	// "opened at store.(*Store).openSegment store.go:88".
	Origin string

	group  string       // the key of its group
	detail string       // what artifacts show of it (a goroutine's full stack)
	stack  string       // where it was created, every frame (origins)
	test   string       // the test that created it, by origin or label
	wake   gostack.Wake // for a goroutine: whether it can run again by itself
}

// String renders the item in one line, as a report lists it:
// "fd 12 file /data/x.log (deleted)", "goroutine 7 [select] at /src/a.go:9",
// "child process 4242 sleep 20 (running)".
func (it Item) String() string {
	one := "item"
	if k := kindOf(it.Resource); k != nil {
		one, _ = k.itemNouns()
	}
	s := one + " " + strconv.FormatUint(it.ID, 10) + " " + it.Text
	if it.Origin != "" {
		s += ", " + it.Origin
	}
	return s
}

// Ignored counts things that appeared during the check but are not leaks by
// definition, such as the Go runtime's netpoller descriptors, or that the
// check's options ignore.
type Ignored struct {
	What  string // "runtime fds", `matching IgnoreTopFunction("x")`
	Count int
}

// Count returns how many items the category holds.
func (c Category) Count() int {
	n := 0
	for _, g := range c.Groups {
		n += len(g.Items)
	}
	return n
}

// Leaked reports whether the check found more than the tolerances allow.
func (r *Report) Leaked() bool {
	for _, c := range r.Categories {
		if c.Count() > r.tolerance[c.Resource] {
			return true
		}
	}
	return false
}

// Count returns how many items of resource res leaked.
func (r *Report) Count(res Resource) int {
	n := 0
	for _, c := range r.Categories {
		if c.Resource&res != 0 {
			n += c.Count()
		}
	}
	return n
}

// Counts returns the leaked items per resource and per group, keyed
// "fds", "fds/eventfd", "sockets/tcp CLOSE_WAIT", "goroutines",
// "threads/JRaft-RPC-Proc": the numbers tests and Cycle reports assert on.
func (r *Report) Counts() map[string]int {
	m := make(map[string]int)
	for _, c := range r.Categories {
		name := c.Resource.String()
		for _, g := range c.Groups {
			m[name] += len(g.Items)
			m[name+"/"+g.Key] += len(g.Items)
		}
	}
	return m
}

// Err returns nil for a clean report and an error holding String otherwise.
func (r *Report) Err() error {
	if !r.Leaked() {
		return nil
	}
	return reportError{r}
}

type reportError struct{ r *Report }

func (e reportError) Error() string { return e.r.String() }

// maxItems is how many lines of one group a report prints.
const maxItems = 10

// String renders the report: one counted summary line, then one block per
// category with its groups and items.
//
//	leakcheck: 4 leaked after waiting 3s: 1 goroutine, 2 fds, 1 socket (2 runtime fds ignored)
//	goroutines (1):
//	  1 × main.(*Monitor).loop [select], created by main.Start
//	      goroutine 41 [select] at /src/monitor.go:31
//	fds (2):
//	  deleted file (2):
//	      fd 12 file /data/topic-0/00000000.log (deleted)
//	      fd 13 file /data/topic-0/00000000.index (deleted)
//	sockets (1):
//	  tcp CLOSE_WAIT (1):
//	      fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT
func (r *Report) String() string {
	var b strings.Builder
	b.WriteString("leakcheck: ")
	switch {
	case len(r.Categories) == 0 && len(r.Incomplete) > 0:
		b.WriteString("could not check everything in " + r.Target + "; no leaks in what could be read")
	case len(r.Categories) == 0:
		b.WriteString("no leaks in " + r.Target)
	default:
		total := 0
		var parts []string
		for _, c := range r.Categories {
			total += c.Count()
			parts = append(parts, plural(c.Count(), c.Resource))
		}
		if r.Leaked() {
			fmt.Fprintf(&b, "%d leaked", total)
		} else {
			fmt.Fprintf(&b, "%d within the tolerance", total)
		}
		if r.Target != "this process" {
			b.WriteString(" by " + r.Target)
		}
		if r.Waited >= time.Millisecond {
			fmt.Fprintf(&b, " after waiting %s", r.Waited.Round(time.Millisecond))
		}
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	if ig := ignoredNote(r.Ignored); ig != "" {
		b.WriteString(" " + ig)
	}
	for _, c := range r.Categories {
		fmt.Fprintf(&b, "\n%s (%d):", c.Resource, c.Count())
		_, first := kindOf(c.Resource).(countFirst)
		for _, g := range c.Groups {
			if first {
				fmt.Fprintf(&b, "\n  %d × %s", len(g.Items), g.Key)
			} else {
				fmt.Fprintf(&b, "\n  %s (%d):", g.Key, len(g.Items))
			}
			writeLines(&b, g.Items, maxItems)
		}
	}
	for _, u := range r.Incomplete {
		b.WriteString("\nnot checked: " + u)
	}
	for _, u := range r.Unchecked {
		b.WriteString("\nnote: " + u)
	}
	if len(r.Categories) > 0 {
		for _, n := range r.notes {
			b.WriteString("\nnote: " + n)
		}
	}
	return b.String()
}

// failed reports whether the check failed: a leak, or a resource it could
// not read at the verdict.
func (r *Report) failed() bool { return r.Leaked() || len(r.Incomplete) > 0 }

// writeLines writes the lines of items indented under a group, the first
// max of them and then how many more items there are.
func writeLines(b *strings.Builder, items []Item, max int) {
	lines, counts := collapse(items)
	for i, line := range lines {
		if i == max && len(lines) > max+1 {
			rest := 0
			for _, n := range counts[i:] {
				rest += n
			}
			fmt.Fprintf(b, "\n      … and %d more", rest)
			return
		}
		b.WriteString("\n      " + line)
	}
}

// collapse renders items that differ only in their number as one line:
// "60 × eventfd (count 0): fds 15, 16, 17, 20, 21, 22, 25, 26, … and 52 more",
// and says how many items each line stands for.
func collapse(items []Item) ([]string, []int) {
	type run struct {
		first Item
		ids   []string
	}
	type key struct {
		r            Resource
		text, origin string
	}
	var order []*run
	byKey := map[key]*run{}
	for _, it := range items {
		k := key{it.Resource, it.Text, it.Origin}
		r := byKey[k]
		if r == nil {
			r = &run{first: it}
			byKey[k] = r
			order = append(order, r)
		}
		r.ids = append(r.ids, strconv.FormatUint(it.ID, 10))
	}
	lines := make([]string, 0, len(order))
	counts := make([]int, 0, len(order))
	stacks := originsMode() == "stacks"
	withStack := func(line string, it Item) string {
		if !stacks || it.stack == "" {
			return line
		}
		return line + "\n" + strings.TrimRight(indent(it.stack, "      "), "\n")
	}
	for _, r := range order {
		counts = append(counts, len(r.ids))
		if len(r.ids) < 2 {
			lines = append(lines, withStack(r.first.String(), r.first))
			continue
		}
		shown, more := r.ids, ""
		if len(shown) > 8 {
			more = fmt.Sprintf(", … and %d more", len(shown)-8)
			shown = shown[:8]
		}
		many := "items"
		if k := kindOf(r.first.Resource); k != nil {
			_, many = k.itemNouns()
		}
		text := r.first.Text
		if r.first.Origin != "" {
			text += ", " + r.first.Origin
		}
		lines = append(lines, withStack(fmt.Sprintf("%d × %s: %s %s%s", len(r.ids), text, many, strings.Join(shown, ", "), more), r.first))
	}
	return lines, counts
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// group gathers items into groups by their keys, largest first, then by key.
func group(items []Item) []Group {
	byKey := map[string]int{}
	var gs []Group
	for _, it := range items {
		i, ok := byKey[it.group]
		if !ok {
			i = len(gs)
			byKey[it.group] = i
			gs = append(gs, Group{Key: it.group})
		}
		gs[i].Items = append(gs[i].Items, it)
	}
	sortGroups(gs)
	return gs
}

// plural renders "1 goroutine", "2 fds", "1 socket", "3 processes".
func plural(n int, r Resource) string {
	k := kindOf(r)
	if k == nil {
		return strconv.Itoa(n) + " " + r.String()
	}
	one, many := k.names()
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// sortGroups orders groups largest first, then by key.
func sortGroups(gs []Group) {
	sort.SliceStable(gs, func(i, j int) bool {
		if len(gs[i].Items) != len(gs[j].Items) {
			return len(gs[i].Items) > len(gs[j].Items)
		}
		return gs[i].Key < gs[j].Key
	})
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

// artifacts: a leaking report's full text, with every goroutine's stack
// and the snapshots behind it.
func (r *Report) artifacts() map[string]func(string) error {
	if !r.Leaked() {
		return nil
	}
	return map[string]func(string) error{"leakcheck.txt": func(p string) error {
		return os.WriteFile(p, []byte(r.String()+"\n\n"+r.details()), 0o644)
	}}
}

func (r *Report) unchecked() []string {
	return append(append([]string(nil), r.Incomplete...), r.Unchecked...)
}
