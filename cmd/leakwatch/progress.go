package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leakcheck/go/internal/series"
)

// progress shows a watch as it runs: one line rewritten in place on a
// terminal, else a line every so often.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration // between lines when not a terminal; 0: none
	next  time.Duration
	drawn bool
}

func newProgress(w io.Writer, every time.Duration) *progress {
	return &progress{w: w, tty: isTerminal(w), every: every, next: every}
}

func (p *progress) update(s *series.Series, elapsed time.Duration) {
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r%s\x1b[K", progressLine(s, elapsed))
		p.drawn = true
	case p.every > 0 && elapsed >= p.next:
		fmt.Fprintln(p.w, progressLine(s, elapsed))
		for p.next <= elapsed {
			p.next += p.every
		}
	}
}

// done clears the progress line from a terminal.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// progressLine is "12.0s #12  fds 14 (+3)  sockets 9 (+8)  threads 5 (+0)
// processes 1 (+0)  grows most: sockets/tcp CLOSE_WAIT +8", counted since
// the first sample.
func progressLine(s *series.Series, elapsed time.Duration) string {
	n := s.Len()
	if n == 0 {
		return ""
	}
	first, last := s.Samples[0].Counts, s.Samples[n-1].Counts
	var b strings.Builder
	fmt.Fprintf(&b, "%.1fs #%d", elapsed.Seconds(), s.Samples[n-1].Iteration)
	for _, k := range []string{series.FDs, series.Sockets, series.Threads, series.Processes} {
		fmt.Fprintf(&b, "  %s %d (%+d)", k, last[k], last[k]-first[k])
	}
	top, grew := "", 0
	for _, k := range s.Keys() {
		if !strings.Contains(k, "/") {
			continue
		}
		if d := last[k] - first[k]; d > grew {
			top, grew = k, d
		}
	}
	if top != "" {
		fmt.Fprintf(&b, "  grows most: %s %+d", top, grew)
	}
	return b.String()
}
