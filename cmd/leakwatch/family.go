package main

import (
	"cmp"
	"slices"
	"strings"

	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/internal/threads"
	"github.com/leakcheck/go/leakcheck"
)

// Threads and child processes count by family (threads.Family): the
// threads of a pool that number themselves, RPC-Processor-1,
// RPC-Processor-2, …, are one category, "threads/RPC-Processor-*", and so
// are children whose command lines differ only in their numbers ("worker-1",
// "worker-2": "processes/worker-*"; "sleep 20": "processes/sleep *"), in the
// table, the chart, the thresholds and the diff.

// byFamily are the resources whose groups are names that may number
// themselves.
var byFamily = []string{series.Threads, series.Processes}

// familyKey returns the category key a count is kept under.
func familyKey(key string) string {
	for _, res := range byFamily {
		if name, ok := strings.CutPrefix(key, res+"/"); ok {
			return res + "/" + threads.Family(name)
		}
	}
	return key
}

// familyCounts re-keys counts by family, adding up the members.
func familyCounts(c series.Counts) series.Counts {
	out := make(series.Counts, len(c))
	for k, n := range c {
		out[familyKey(k)] += n
	}
	return out
}

// familyReport returns r with its thread and child process groups merged by
// family, items in order of thread id or pid. The items keep each thread's
// own name, each child its own command line.
func familyReport(r *leakcheck.Report) *leakcheck.Report {
	if r == nil {
		return nil
	}
	out := *r
	out.Categories = slices.Clone(r.Categories)
	for i, c := range out.Categories {
		if c.Resource != leakcheck.Threads && c.Resource != leakcheck.Processes {
			continue
		}
		byFamily := map[string]int{} // index in groups
		var groups []leakcheck.Group
		for _, g := range c.Groups {
			fam := threads.Family(g.Key)
			j, ok := byFamily[fam]
			if !ok {
				j = len(groups)
				byFamily[fam] = j
				groups = append(groups, leakcheck.Group{Key: fam})
			}
			groups[j].Items = append(groups[j].Items, g.Items...)
		}
		for j := range groups {
			slices.SortStableFunc(groups[j].Items, func(a, b leakcheck.Item) int { return cmp.Compare(a.ID, b.ID) })
		}
		slices.SortStableFunc(groups, func(a, b leakcheck.Group) int {
			if c := cmp.Compare(len(b.Items), len(a.Items)); c != 0 {
				return c // largest first, as reports order groups
			}
			return strings.Compare(a.Key, b.Key)
		})
		out.Categories[i].Groups = groups
	}
	return &out
}
