package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/leakcheck/go/internal/series"
)

// limits is a threshold per category, with a default for the others: the
// value of --max-slope, --max-growth and --tolerance.
type limits struct {
	global  float64
	hasGlob bool
	per     map[string]float64
}

func (l *limits) String() string {
	if l == nil {
		return ""
	}
	var parts []string
	if l.hasGlob {
		parts = append(parts, strconv.FormatFloat(l.global, 'g', -1, 64))
	}
	for _, k := range slices.Sorted(maps.Keys(l.per)) {
		parts = append(parts, k+"="+strconv.FormatFloat(l.per[k], 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// Set parses "0.5", "sockets=0.1,fds/eventfd=0" or a mix of both.
func (l *limits) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Errorf("empty item in %q: want N, or CATEGORY=N, separated by commas", v)
		}
		// At the last "=": a command line may hold one
		// ("processes/java -Xmx=1g=0"), a number never does.
		key, num, hasKey := "", item, false
		if i := strings.LastIndex(item, "="); i >= 0 {
			key, num, hasKey = item[:i], item[i+1:], true
		}
		key = strings.TrimSpace(key)
		n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
			return fmt.Errorf("%q: want a number ≥ 0, as in 0.5 or sockets=0.1", item)
		}
		if !hasKey {
			l.global, l.hasGlob = n, true
			continue
		}
		if err := checkKey(key); err != nil {
			return err
		}
		key = familyKey(key) // threads/RPC-Processor-1 means its family, and processes/worker-1 its
		if l.per == nil {
			l.per = map[string]float64{}
		}
		l.per[key] = n
	}
	return nil
}

// checkKey accepts the category keys a watch produces.
func checkKey(key string) error {
	res, cat, sub := strings.Cut(key, "/")
	switch {
	case res != series.FDs && res != series.Sockets && res != series.Threads && res != series.Processes:
		return fmt.Errorf("category %q: want fds, sockets, threads or processes, or one of their categories such as fds/eventfd, \"sockets/tcp CLOSE_WAIT\", threads/NAME, \"processes/COMMAND\"", key)
	case sub && cat == "":
		return fmt.Errorf("category %q: name the category after the slash, as in %s/…", key, res)
	}
	return nil
}

// exact returns the threshold given for key itself.
func (l *limits) exact(key string) (float64, bool) {
	n, ok := l.per[key]
	return n, ok
}

// limit returns the threshold for key: its own, else its resource's
// ("sockets" for "sockets/tcp CLOSE_WAIT"), else the global one.
func (l *limits) limit(key string) (float64, bool) {
	if n, ok := l.per[key]; ok {
		return n, true
	}
	res, _, _ := strings.Cut(key, "/")
	if n, ok := l.per[res]; ok {
		return n, true
	}
	return l.global, l.hasGlob
}

func (l *limits) set() bool { return l.hasGlob || len(l.per) > 0 }

// keys returns the categories named explicitly, so they are judged even
// when the series never saw them.
func (l *limits) keys() []string { return slices.Sorted(maps.Keys(l.per)) }

func fmtLimit(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// limitsNote says which thresholds were given.
func limitsNote(maxSlope, maxGrowth *limits) string {
	var parts []string
	if maxSlope.set() {
		parts = append(parts, "--max-slope "+maxSlope.String())
	}
	if maxGrowth.set() {
		parts = append(parts, "--max-growth "+maxGrowth.String())
	}
	return strings.Join(parts, ", ")
}
