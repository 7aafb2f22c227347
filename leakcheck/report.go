package leakcheck

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/sockstate"
)

// Report is what a check found: one Category per leaked resource, each
// grouped so the culprit stands out. A Report with no categories is clean.
type Report struct {
	Target     string        // "this process" or "pid 4242"
	Waited     time.Duration // how long the check waited for teardown to settle
	Categories []Category    // in the order goroutines, fds, sockets, threads
	Ignored    []Ignored     // what appeared but is never a leak (the runtime's own, …)
	Unchecked  []string      // resources that could not be checked, and why

	tolerance map[Resource]int
	dump      string // full stacks and snapshots, for artifacts
}

// details returns the full goroutine stacks and snapshots behind the report.
func (r *Report) details() string { return r.dump }

// Category is one leaked resource, its items grouped.
type Category struct {
	Resource Resource
	Groups   []Group // largest first
}

// Group is leaked items that share a culprit: a goroutine's function and
// creator, a descriptor kind, a socket's protocol and state, a thread name.
type Group struct {
	Key   string   // "net/http.(*persistConn).readLoop, created by net/http.(*Transport).dialConn", "eventfd", "tcp CLOSE_WAIT"
	Items []string // one line per item, e.g. "fd 12 file /data/x.log (deleted)"
}

// Ignored counts things that appeared during the check but are not leaks by
// definition, such as the Go runtime's netpoller descriptors.
type Ignored struct {
	What  string // "runtime fds"
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

// maxItems is how many items of one group a report prints.
const maxItems = 10

// String renders the report: one counted summary line, then one block per
// category with its groups and items.
//
//	leakcheck: 4 leaked after waiting 3s: 1 goroutine, 2 fds, 1 socket (2 runtime fds ignored)
//	goroutines (1):
//	  1 × main.(*Monitor).loop [select], created by main.Start
//	      goroutine 41 [select]: main.(*Monitor).loop
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
	if len(r.Categories) == 0 {
		b.WriteString("no leaks in " + r.Target)
	} else {
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
	if len(r.Ignored) > 0 {
		var parts []string
		for _, ig := range r.Ignored {
			parts = append(parts, fmt.Sprintf("%d %s", ig.Count, ig.What))
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + " ignored)")
	}
	for _, c := range r.Categories {
		fmt.Fprintf(&b, "\n%s (%d):", c.Resource, c.Count())
		for _, g := range c.Groups {
			if c.Resource == Goroutines {
				fmt.Fprintf(&b, "\n  %d × %s", len(g.Items), g.Key)
			} else {
				fmt.Fprintf(&b, "\n  %s (%d):", g.Key, len(g.Items))
			}
			lines := collapse(g.Items)
			for i, line := range lines {
				if i == maxItems && len(lines) > maxItems+1 {
					fmt.Fprintf(&b, "\n      … and %d more", len(lines)-maxItems)
					break
				}
				b.WriteString("\n      " + line)
			}
		}
	}
	for _, u := range r.Unchecked {
		b.WriteString("\nnote: " + u)
	}
	return b.String()
}

// itemNumber splits "fd 12 eventfd (count 0)" into "fd", "12" and
// "eventfd (count 0)".
var itemNumber = regexp.MustCompile(`^(fd|goroutine|thread) (\d+) (.+)$`)

// collapse renders items that differ only in their number as one line:
// "60 × eventfd (count 0): fds 15, 16, 17, 20, 21, 22, 25, 26, … and 52 more".
func collapse(items []string) []string {
	type run struct {
		noun, rest string
		nums       []string
		item       string
	}
	var order []*run
	byKey := map[string]*run{}
	for _, it := range items {
		m := itemNumber.FindStringSubmatch(it)
		if m == nil {
			order = append(order, &run{item: it})
			continue
		}
		key := m[1] + "\x00" + m[3]
		r := byKey[key]
		if r == nil {
			r = &run{noun: m[1], rest: m[3], item: it}
			byKey[key] = r
			order = append(order, r)
		}
		r.nums = append(r.nums, m[2])
	}
	lines := make([]string, 0, len(order))
	for _, r := range order {
		if len(r.nums) < 2 {
			lines = append(lines, r.item)
			continue
		}
		shown := r.nums
		more := ""
		if len(shown) > 8 {
			more = fmt.Sprintf(", … and %d more", len(shown)-8)
			shown = shown[:8]
		}
		lines = append(lines, fmt.Sprintf("%d × %s: %ss %s%s", len(r.nums), r.rest, r.noun, strings.Join(shown, ", "), more))
	}
	return lines
}

// plural renders "1 goroutine", "2 fds", "1 socket", "3 threads".
func plural(n int, r Resource) string {
	name := r.String()
	if n == 1 {
		name = strings.TrimSuffix(name, "s")
	}
	return strconv.Itoa(n) + " " + name
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

// sortGroups orders groups largest first, then by key.
func sortGroups(gs []Group) {
	sort.SliceStable(gs, func(i, j int) bool {
		if len(gs[i].Items) != len(gs[j].Items) {
			return len(gs[i].Items) > len(gs[j].Items)
		}
		return gs[i].Key < gs[j].Key
	})
}

func fdCategory(fds []fdsnap.FD) Category {
	c := Category{Resource: FDs}
	for _, kg := range fdsnap.Group(fds) {
		g := Group{Key: kg.Kind.String()}
		for _, fd := range kg.FDs {
			g.Items = append(g.Items, fd.String())
		}
		c.Groups = append(c.Groups, g)
	}
	sortGroups(c.Groups)
	return c
}

func socketCategory(fds []fdsnap.FD, socks map[uint64]sockstate.Socket) Category {
	c := Category{Resource: Sockets}
	byKey := map[string]*Group{}
	var keys []string
	for _, fd := range fds {
		key, item := "socket", fd.String()
		if s, ok := socks[fd.Ino]; ok {
			key = sockstate.Class{Proto: s.Proto, State: s.State}.String()
			item = fmt.Sprintf("fd %d %s", fd.Num, s.Describe())
		}
		g := byKey[key]
		if g == nil {
			g = &Group{Key: key}
			byKey[key] = g
			keys = append(keys, key)
		}
		g.Items = append(g.Items, item)
	}
	for _, k := range keys {
		c.Groups = append(c.Groups, *byKey[k])
	}
	sortGroups(c.Groups)
	return c
}

func threadCategory(ts []Thread) Category {
	c := Category{Resource: Threads}
	byName := map[string]*Group{}
	var names []string
	for _, t := range ts {
		g := byName[t.Name]
		if g == nil {
			g = &Group{Key: t.Name}
			byName[t.Name] = g
			names = append(names, t.Name)
		}
		g.Items = append(g.Items, t.String())
	}
	slices.Sort(names)
	for _, n := range names {
		c.Groups = append(c.Groups, *byName[n])
	}
	sortGroups(c.Groups)
	return c
}
