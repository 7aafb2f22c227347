package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/leakcheck"
)

// result is what a watch found, as the summary and the JSON show it.
type result struct {
	series   *series.Series
	interval time.Duration
	warmup   float64
	ended    string // why sampling stopped
	stats    []series.Stats
	limits   string   // the thresholds applied, "" for none
	exceeded []string // one line per threshold exceeded

	report         *leakcheck.Report // last full snapshot against the first
	baseAt, lastAt time.Duration     // when they were taken
	noReport       string            // why there is no report
	child          string            // how the command ended, "" for -p
}

// write prints the summary:
//
//	leakwatch: pid 4242 (server): 51 samples every 100ms over 5s, until --duration 5s ended; warm-up 20% (10 samples)
//	category          start  end  max  slope/iter  slope/s
//	…
//	exceeded: sockets grew by 39 (1 → 40), more than --max-growth 5
//
//	new at 5s since 1s (identity diff of the first and last full snapshot):
//	leakcheck: 41 leaked by pid 4242: 2 fds, 39 sockets
//	…
func (r *result) write(w io.Writer) error {
	var b strings.Builder
	s := r.series
	fmt.Fprintf(&b, "leakwatch: %s: %d samples every %v over %v, until %s; warm-up %g%% (%d samples)\n",
		s.Target, s.Len(), r.interval, s.Duration().Round(time.Millisecond), r.ended, r.warmup*100, s.WarmupSamples(r.warmup))
	if err := series.WriteTable(&b, r.stats); err != nil {
		return err
	}
	switch {
	case r.limits == "":
		b.WriteString("no thresholds given (--max-slope, --max-growth): reporting only\n")
	case len(r.exceeded) == 0:
		fmt.Fprintf(&b, "ok: nothing exceeded %s\n", r.limits)
	default:
		for _, e := range r.exceeded {
			b.WriteString("exceeded: " + e + "\n")
		}
	}
	b.WriteByte('\n')
	if r.report == nil {
		b.WriteString(r.noReport + "\n")
	} else {
		fmt.Fprintf(&b, "new at %v since %v (identity diff of the first and last full snapshot):\n%s\n",
			r.lastAt.Round(time.Millisecond), r.baseAt.Round(time.Millisecond), r.report)
	}
	if r.child != "" {
		b.WriteString(r.child + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// The JSON a watch writes with --json; the samples follow
// series.Schema.
type jsonWatch struct {
	Schema   string         `json:"schema"`
	Target   string         `json:"target"`
	Interval string         `json:"interval"`
	Warmup   float64        `json:"warmup"`
	Ended    string         `json:"ended"`
	Series   *series.Series `json:"series"`
	Summary  []series.Stats `json:"summary"`
	Limits   string         `json:"limits"`
	Exceeded []string       `json:"exceeded"`
	Diff     *jsonDiff      `json:"diff"` // null without two full snapshots
	Child    string         `json:"child,omitempty"`
	Exit     int            `json:"exit_status"`
}

const watchSchema = "leakwatch.watch/v1"

// jsonDiff is a leakcheck report: its text, its counts by category key,
// and its items.
type jsonDiff struct {
	FromSeconds float64        `json:"from_seconds"`
	ToSeconds   float64        `json:"to_seconds"`
	Text        string         `json:"text"`
	Counts      map[string]int `json:"counts"`
	Categories  []jsonCategory `json:"categories"`
}

type jsonCategory struct {
	Resource string      `json:"resource"`
	Groups   []jsonGroup `json:"groups"`
}

type jsonGroup struct {
	Key   string   `json:"key"`
	Items []string `json:"items"`
}

func newJSONDiff(r *leakcheck.Report) *jsonDiff {
	d := &jsonDiff{Text: r.String(), Counts: r.Counts(), Categories: []jsonCategory{}}
	for _, c := range r.Categories {
		jc := jsonCategory{Resource: c.Resource.String()}
		for _, g := range c.Groups {
			jg := jsonGroup{Key: g.Key, Items: make([]string, len(g.Items))}
			for i, it := range g.Items {
				jg.Items[i] = it.String()
			}
			jc.Groups = append(jc.Groups, jg)
		}
		d.Categories = append(d.Categories, jc)
	}
	return d
}

func (r *result) writeJSON(w io.Writer, status int) error {
	j := jsonWatch{
		Schema: watchSchema, Target: r.series.Target, Interval: r.interval.String(), Warmup: r.warmup,
		Ended: r.ended, Series: r.series, Summary: r.stats, Limits: r.limits,
		Exceeded: append([]string{}, r.exceeded...), Child: r.child, Exit: status,
	}
	if r.report != nil {
		j.Diff = newJSONDiff(r.report)
		j.Diff.FromSeconds, j.Diff.ToSeconds = r.baseAt.Seconds(), r.lastAt.Seconds()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
