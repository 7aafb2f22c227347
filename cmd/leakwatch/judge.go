package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/leakcheck"
)

// defaultMaxSlope is the growth per sample that fails a watch no
// threshold covers: Soak's default per iteration, a sample being a watch's
// iteration.
const defaultMaxSlope = leakcheck.DefaultMaxSlope

// How a category's growth is measured against its threshold.
const (
	measureSlope  = "slope"
	measureGrowth = "growth"
)

// exceededEntry is one threshold a category exceeded, as the summary
// prints it and the JSON holds it.
type exceededEntry struct {
	Category string  `json:"category"` // "sockets/tcp CLOSE_WAIT", "threads/RPC-Processor-*"
	Measure  string  `json:"measure"`  // "slope" (Theil–Sen after the warm-up) or "growth" (end − start)
	Value    float64 `json:"value"`    // in unit
	Limit    float64 `json:"limit"`    // in unit
	Unit     string  `json:"unit"`     // "per second", "per sample" or "count"
	From     string  `json:"from"`     // "--max-slope", "--max-growth" or "default"
	// Process is the process of the tree whose own category it is, with
	// --tree: "pid 4243 (worker)"; empty for the tree's processes and
	// without --tree.
	Process string `json:"process,omitempty"`

	st series.Stats
}

func (e exceededEntry) String() string {
	st := e.st
	who := e.Category
	if e.Process != "" {
		who = e.Process + ": " + who
	}
	switch {
	case e.Measure == measureGrowth:
		return fmt.Sprintf("%s grew by %d (%d → %d), more than --max-growth %s", who, st.Growth, st.Start, st.End, fmtLimit(e.Limit))
	case e.From == "default":
		return fmt.Sprintf("%s grew %.3g per sample (%.3g per second), more than the default %s per sample (as leakcheck.Soak; set --max-slope, or --report-only)",
			who, st.PerIteration, st.PerSecond, fmtLimit(e.Limit))
	default:
		return fmt.Sprintf("%s grew %.3g per second (%.3g per sample), more than --max-slope %s", who, st.PerSecond, st.PerIteration, fmtLimit(e.Limit))
	}
}

// judging is how a watch's categories are judged.
type judging struct {
	maxSlope, maxGrowth limits
	reportOnly          bool
	// ownThreads are the categories of threads that never named themselves
	// ("threads/server"), and the threads total that includes them: the Go
	// runtime starts such threads with load and never stops them, so, as in
	// leakcheck, they are judged only by a threshold that names them.
	ownThreads map[string]bool
}

func (j *judging) own(key string) bool { return key == series.Threads || j.ownThreads[key] }

// limitFor returns the threshold of l that applies to key: for the
// runtime's own threads only one naming the key itself.
func (j *judging) limitFor(l *limits, key string) (float64, bool) {
	if j.own(key) {
		return l.exact(key)
	}
	return l.limit(key)
}

// verdict is what judging a series found.
type verdict struct {
	exceeded   []exceededEntry
	byDefault  bool        // some category was judged by the default slope
	notJudged  []notJudged // runtime thread categories that would have exceeded the default
	reportOnly bool
}

// notJudged is a category of the runtime's own threads that grew past the
// default slope; process names its process of a tree.
type notJudged struct {
	series.Stats
	process string
}

// key is the category, and with --tree its process: "pid 4243 (server):
// threads/server".
func (n notJudged) key() string {
	if n.process == "" {
		return n.Key
	}
	return n.process + ": " + n.Key
}

// merge adds what judging another series (a process of the tree) found.
func (v *verdict) merge(o verdict) {
	v.exceeded = append(v.exceeded, o.exceeded...)
	v.byDefault = v.byDefault || o.byDefault
	v.notJudged = append(v.notJudged, o.notJudged...)
}

// everyKey keeps every category for judging.
func everyKey(string) bool { return true }

// judge applies the thresholds to every category of s that keep accepts
// (and to those the thresholds name, judged as 0 when never seen):
// --max-growth and --max-slope where they apply, and elsewhere the default
// slope per sample.
func (j *judging) judge(s *series.Series, warmup float64, keep func(key string) bool) verdict {
	v := verdict{reportOnly: j.reportOnly}
	if j.reportOnly {
		return v
	}
	keys := s.Keys()
	for _, k := range append(j.maxSlope.keys(), j.maxGrowth.keys()...) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !keep(k) {
			continue
		}
		st := s.Stats(k, warmup)
		growthLim, hasGrowth := j.limitFor(&j.maxGrowth, k)
		slopeLim, hasSlope := j.limitFor(&j.maxSlope, k)
		if hasGrowth && float64(st.Growth) > growthLim {
			v.exceeded = append(v.exceeded, exceededEntry{Category: k, Measure: measureGrowth, Value: float64(st.Growth), Limit: growthLim, Unit: "count", From: "--max-growth", st: st})
		}
		if hasSlope && st.Fitted && st.PerSecond > slopeLim {
			v.exceeded = append(v.exceeded, exceededEntry{Category: k, Measure: measureSlope, Value: st.PerSecond, Limit: slopeLim, Unit: "per second", From: "--max-slope", st: st})
		}
		if hasGrowth || hasSlope {
			continue
		}
		over := st.Fitted && st.PerIteration > defaultMaxSlope
		switch {
		case j.own(k):
			if over {
				v.notJudged = append(v.notJudged, notJudged{Stats: st})
			}
		default:
			v.byDefault = true
			if over {
				v.exceeded = append(v.exceeded, exceededEntry{Category: k, Measure: measureSlope, Value: st.PerIteration, Limit: defaultMaxSlope, Unit: "per sample", From: "default", st: st})
			}
		}
	}
	return v
}

// lines renders the verdict for the summary: what exceeded, or that
// nothing did and by which thresholds, then what was not judged.
func (v verdict) lines(thresholds string) []string {
	var out []string
	switch {
	case v.reportOnly:
		out = append(out, "--report-only: growth is shown, not judged")
	case len(v.exceeded) > 0:
		for _, e := range v.exceeded {
			out = append(out, "exceeded: "+e.String())
		}
	default:
		var by []string
		if thresholds != "" {
			by = append(by, thresholds)
		}
		if v.byDefault {
			what := "the default slope"
			if thresholds != "" {
				what += " for the other categories"
			}
			by = append(by, fmt.Sprintf("%s, %s per sample after the warm-up", what, fmtLimit(defaultMaxSlope)))
		}
		out = append(out, "ok: nothing exceeded "+strings.Join(by, ", nor "))
	}
	for _, n := range v.notJudged {
		out = append(out, fmt.Sprintf("not judged: %s grew %.3g per sample: threads that never named themselves (the runtime's own, as leakcheck counts them); name them in --max-slope or --max-growth to judge them", n.key(), n.PerIteration))
	}
	return out
}
