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
	series    *series.Series
	interval  time.Duration
	elapsed   time.Duration // at the last sample
	ended     string        // why sampling stopped: endDuration, endExited, endInterrupted
	endedText string

	warmup      float64 // the leading share of samples the stats leave out
	warmupNote  string  // "warm-up 20% (10 samples)"
	warmupUntil string  // "share", "ready-after" or "ready-port"
	ready       bool    // readiness ended the warm-up
	readyAt     time.Duration

	stats      []series.Stats
	judged     bool   // false with fewer than two samples, or a target never ready
	thresholds string // the thresholds given, "" for none
	verdict    verdict

	report   *leakcheck.Report // the last look against the base
	tree     *treeResult       // with --tree: each process, and its diff
	base     look
	baseWhy  string
	lastAt   time.Duration
	noReport string // why there is no report

	fate      *fate // how the command ended; nil for -p
	status    int
	statusWhy string
}

// write prints the summary:
//
//	leakwatch: pid 4242 (server): 51 samples every 100ms over 5s, until --duration 5s ended; warm-up 20% (10 samples)
//	category          start  end  max  slope/iter  slope/s
//	…
//	exceeded: sockets grew by 39 (1 → 40), more than --max-growth 5
//
//	new at 5s since 1s, sample 10 (the first full snapshot after the warm-up of 10 samples):
//	leakcheck: 41 leaked by pid 4242: 2 fds, 39 sockets
//	…
//	server (pid 4242) stopped by leakwatch: signal SIGTERM (terminated)
//	leakwatch: exit status 1: growth over its threshold
func (r *result) write(w io.Writer) error {
	var b strings.Builder
	s := r.series
	if s.Len() < 2 {
		// However many samples a target that ends at once leaves (none or
		// one), it reads the same.
		fmt.Fprintf(&b, "leakwatch: %s: %s before a second sample, after %v: nothing to judge\n",
			s.Target, r.endedText, r.elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "leakwatch: %s: %d samples every %v over %v, until %s; %s\n",
			s.Target, s.Len(), r.interval, s.Duration().Round(time.Millisecond), r.endedText, r.warmupNote)
		if err := series.WriteTable(&b, r.stats); err != nil {
			return err
		}
		if r.tree != nil {
			b.WriteByte('\n')
			r.tree.write(&b)
		}
		switch {
		case r.judged:
			for _, line := range r.verdict.lines(r.thresholds) {
				b.WriteString(line + "\n")
			}
		case r.warmupUntil != "share" && !r.ready:
			b.WriteString("not judged: the target never became ready\n")
		default:
			b.WriteString("not judged: fewer than two samples after the warm-up\n")
		}
		b.WriteByte('\n')
		switch {
		case r.tree != nil && r.noReport == "":
			at := r.lastAt.Round(time.Millisecond).String()
			if r.ended == endExited {
				at += ", the last sample before the process exited,"
			}
			fmt.Fprintf(&b, "new at %s since %v, sample %d (%s), by process:\n",
				at, r.base.at.Round(time.Millisecond), r.base.sample, r.baseWhy)
			r.tree.writeDiff(&b)
		case r.report == nil:
			b.WriteString(r.noReport + "\n")
		default:
			at := r.lastAt.Round(time.Millisecond).String()
			if r.ended == endExited {
				at += ", the last sample before the process exited,"
			}
			fmt.Fprintf(&b, "new at %s since %v, sample %d (%s):\n%s\n",
				at, r.base.at.Round(time.Millisecond), r.base.sample, r.baseWhy, r.report)
		}
	}
	if r.fate != nil {
		b.WriteString(r.fate.Text + "\n")
	}
	fmt.Fprintf(&b, "leakwatch: exit status %d: %s\n", r.status, r.statusWhy)
	_, err := io.WriteString(w, b.String())
	return err
}

// watchSchema names the layout of the JSON a watch writes with --json;
// cmd/leakwatch/README.md documents it. v2: "exceeded" holds objects,
// "warmup" is an object, and "target_exit" says how a command ended. v3:
// child processes are a category, "tree" holds each process of a --tree
// watch, and an "exceeded" entry may name its "process".
const watchSchema = "leakwatch.watch/v3"

// jsonWatch is the JSON a watch writes; the samples follow series.Schema.
type jsonWatch struct {
	Schema     string          `json:"schema"`
	Target     string          `json:"target"`
	Interval   string          `json:"interval"`
	Ended      string          `json:"ended"`
	Warmup     jsonWarmup      `json:"warmup"`
	Series     *series.Series  `json:"series"`
	Summary    []series.Stats  `json:"summary"`
	Judged     bool            `json:"judged"`
	Thresholds string          `json:"thresholds"`
	DefaultMax *float64        `json:"default_max_slope"`
	Exceeded   []exceededEntry `json:"exceeded"`
	NotJudged  []string        `json:"not_judged"`
	Diff       *jsonDiff       `json:"diff"`
	Tree       *jsonTree       `json:"tree"`
	TargetExit *fate           `json:"target_exit"`
	Exit       int             `json:"exit_status"`
}

// jsonTree is each process of a --tree watch.
type jsonTree struct {
	Processes []jsonProc `json:"processes"` // alive at the end, the target first
	Exited    []jsonGone `json:"exited"`    // exited during the watch, by name
	Zombies   []jsonGone `json:"zombies"`   // at the end, by name
	NotListed []string   `json:"not_listed"`
}

type jsonProc struct {
	PID         int            `json:"pid"`
	PPID        int            `json:"ppid"` // 0 for the target
	Name        string         `json:"name"`
	Command     string         `json:"command"`
	FirstSample int            `json:"first_sample"`
	LastSample  int            `json:"last_sample"`
	Samples     int            `json:"samples"` // read at
	Unread      int            `json:"unread"`  // seen but not read at
	UnreadWhy   string         `json:"unread_why,omitempty"`
	Judged      bool           `json:"judged"`
	NotJudged   string         `json:"not_judged,omitempty"` // why not
	Summary     []series.Stats `json:"summary"`
	Diff        *jsonDiff      `json:"diff"`
}

type jsonGone struct {
	Name        string `json:"name"`
	Count       int    `json:"count"`
	PIDs        []int  `json:"pids"` // the first 8
	MostSamples int    `json:"most_samples"`
}

func newJSONTree(r *treeResult) *jsonTree {
	j := &jsonTree{Processes: []jsonProc{}, Exited: []jsonGone{}, Zombies: []jsonGone{}, NotListed: append([]string{}, r.listErrs...)}
	for _, pr := range r.procs {
		l := pr.life
		p := jsonProc{PID: l.id.pid, PPID: l.ppid, Name: l.name, Command: l.command, FirstSample: l.first, LastSample: l.lastSeen,
			Samples: l.counts.Len(), Unread: l.unread, Judged: pr.judged, NotJudged: pr.whyNot, Summary: append([]series.Stats{}, pr.stats...)}
		if l.unread > 0 {
			p.UnreadWhy = readErr(l.err)
		}
		if pr.report != nil {
			p.Diff = newJSONDiff(pr.report)
			p.Diff.FromSample, p.Diff.FromSeconds = pr.base.sample, pr.base.at.Seconds()
		}
		j.Processes = append(j.Processes, p)
	}
	for _, list := range []struct {
		from []*gone
		to   *[]jsonGone
	}{{r.exited, &j.Exited}, {r.zombies, &j.Zombies}} {
		for _, g := range list.from {
			*list.to = append(*list.to, jsonGone{Name: g.name, Count: g.count, PIDs: g.pids, MostSamples: g.most})
		}
	}
	return j
}

// treeDiff is the diff of every process of the tree: its text as printed,
// counts summed, items named by their process.
func treeDiff(r *treeResult) *jsonDiff {
	var b strings.Builder
	r.writeDiff(&b)
	d := &jsonDiff{Text: strings.TrimSuffix(b.String(), "\n"), Counts: map[string]int{}, Categories: []jsonCategory{}}
	for _, pr := range r.procs {
		if pr.report == nil {
			continue
		}
		pd := newJSONDiff(pr.report)
		for k, n := range pd.Counts {
			d.Counts[k] += n
		}
		for _, c := range pd.Categories {
			for _, g := range c.Groups {
				for i, it := range g.Items {
					g.Items[i] = pr.life.member.String() + ": " + it
				}
			}
			d.Categories = append(d.Categories, c)
		}
	}
	return d
}

type jsonWarmup struct {
	Share        float64  `json:"share"`
	Samples      int      `json:"samples"`
	Until        string   `json:"until"`
	ReadySeconds *float64 `json:"ready_seconds"`
}

// jsonDiff is a leakcheck report: its text, its counts by category key,
// and its items.
type jsonDiff struct {
	FromSample  int            `json:"from_sample"`
	FromSeconds float64        `json:"from_seconds"`
	ToSeconds   float64        `json:"to_seconds"`
	Base        string         `json:"base"`
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

func (r *result) writeJSON(w io.Writer) error {
	j := jsonWatch{
		Schema: watchSchema, Target: r.series.Target, Interval: r.interval.String(), Ended: r.ended,
		Warmup:     jsonWarmup{Share: r.warmup, Samples: r.series.WarmupSamples(r.warmup), Until: r.warmupUntil},
		Series:     r.series,
		Summary:    append([]series.Stats{}, r.stats...),
		Judged:     r.judged,
		Thresholds: r.thresholds,
		Exceeded:   append([]exceededEntry{}, r.verdict.exceeded...),
		NotJudged:  []string{},
		TargetExit: r.fate,
		Exit:       r.status,
	}
	if r.ready {
		sec := r.readyAt.Seconds()
		j.Warmup.ReadySeconds = &sec
	}
	if r.verdict.byDefault {
		v := defaultMaxSlope
		j.DefaultMax = &v
	}
	for _, n := range r.verdict.notJudged {
		j.NotJudged = append(j.NotJudged, n.key())
	}
	if r.tree != nil {
		j.Tree = newJSONTree(r.tree)
	}
	if r.tree != nil && r.noReport == "" {
		j.Diff = treeDiff(r.tree)
	}
	if r.report != nil {
		j.Diff = newJSONDiff(r.report)
	}
	if j.Diff != nil {
		j.Diff.FromSample, j.Diff.FromSeconds, j.Diff.ToSeconds = r.base.sample, r.base.at.Seconds(), r.lastAt.Seconds()
		j.Diff.Base = "warm-up"
		if r.warmupUntil != "share" {
			j.Diff.Base = "ready"
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
