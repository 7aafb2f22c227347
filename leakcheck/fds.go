package leakcheck

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/origin"
)

// fdKind is the descriptors other than sockets, by number and the object
// each refers to.
type fdKind struct{}

func (fdKind) resource() Resource          { return FDs }
func (fdKind) names() (string, string)     { return "fd", "fds" }
func (fdKind) itemNouns() (string, string) { return "fd", "fds" }
func (fdKind) goName() string              { return "FDs" }
func (fdKind) processWide()                {}
func (fdKind) finalizerLeak()              {}
func (fdKind) collected(s *Snapshot) bool  { return s.FDs != nil }

func (fdKind) collect(s *Snapshot, l look) error { return s.fdTable(l) }

// fdTable reads the target's descriptor table once per snapshot, for the
// kinds that read it (descriptors, sockets).
func (s *Snapshot) fdTable(l look) error {
	if s.FDs != nil {
		return nil
	}
	if s.target.self {
		if rt, err := runtimeFDs(); err == nil {
			s.runtimeFDs = rt
		}
	}
	var opts []fdsnap.Option
	switch {
	case l == describeLook:
		opts = append(opts, fdsnap.WithDetail())
	case l == pollLook && s.since != nil && s.since.FDs != nil:
		// A poll reads again only the descriptors that changed; what it
		// copies is not shown, only compared by identity.
		opts = append(opts, fdsnap.WithSince(s.since.FDs))
	}
	fds, err := s.target.fds(opts...)
	if err != nil {
		return err
	}
	s.FDs = fds
	return nil
}

// runtimeFDs returns the Go runtime's descriptors, found once: the runtime
// never closes them (see fdsnap.RuntimeFDs). The first call also makes the
// runtime create its netpoller, before any baseline is taken.
var runtimeFDs = sync.OnceValues(fdsnap.RuntimeFDs)

// opened returns the descriptors now holds that base did not (sockets
// included), or nil when either lacks its descriptor table.
func opened(base, now *Snapshot) []fdsnap.FD {
	if base.FDs == nil || now.FDs == nil {
		return nil
	}
	return fdsnap.Compare(base.FDs, now.FDs).Opened()
}

// defaultFDFilters are the descriptors that are never a test's leak, for
// the current process.
func defaultFDFilters(base, now *Snapshot) []filter[fdsnap.FD] {
	if !now.target.self {
		return []filter[fdsnap.FD]{childPidfds(base, now)}
	}
	runtimeOwned := append(append([]fdsnap.FD(nil), base.runtimeFDs...), now.runtimeFDs...)
	return []filter[fdsnap.FD]{
		{name: "runtime fds", drop: func(fd fdsnap.FD) bool { return containsFD(runtimeOwned, fd) }},
		{name: "leakcheck's own fds", drop: func(fd fdsnap.FD) bool { return fd.Kind == fdsnap.AnonInode && ownTracerFD(fd.Num) }},
		{name: "testing framework fds", drop: isTestingFile},
		{name: "pooled splice pipes", drop: fdsnap.IsSplicePipe},
		childPidfds(base, now),
	}
}

// childPidfds drops the pidfd Go keeps for a started child that is itself
// reported: the child process shows it, so it is not a second mystery
// descriptor. A pidfd whose process was reaped is still a descriptor leak.
func childPidfds(base, now *Snapshot) filter[fdsnap.FD] {
	return filter[fdsnap.FD]{name: "pidfds shown with their child process", drop: func(fd fdsnap.FD) bool {
		if fd.Kind != fdsnap.PidFD {
			return false
		}
		p, ok := now.childOfPidfd(fd.Num)
		return ok && !base.hasProcess(p)
	}}
}

func (fdKind) diff(d *diffing, base, now *Snapshot) ([]Item, error) {
	var fds []fdsnap.FD
	for _, fd := range opened(base, now) {
		if fd.Kind != fdsnap.Socket {
			fds = append(fds, fd)
		}
	}
	fds = keep(d, fds, defaultFDFilters(base, now), d.cfg.fdFilters)
	items := make([]Item, 0, len(fds))
	for _, fd := range fds {
		items = append(items, Item{Resource: FDs, ID: uint64(fd.Num), Text: fd.Describe(), group: fd.Kind.String()})
	}
	return items, nil
}

func containsFD(list []fdsnap.FD, fd fdsnap.FD) bool {
	for _, r := range list {
		if r.Num == fd.Num && fdsnap.SameObject(r, fd) {
			return true
		}
	}
	return false
}

func (fdKind) count(s *Snapshot, m map[string]int) {
	for _, fd := range s.FDs.FDs {
		if fd.Kind != fdsnap.Socket { // sockets are counted by class
			m["fds"]++
			m["fds/"+fd.Kind.String()]++
		}
	}
}

// The per-iteration total of a soak: every descriptor, sockets included,
// with one fstat.
func (fdKind) tally(t target) (int, error) { return t.fdCount() }
func (fdKind) tallyKey() string            { return "all fds" }
func (fdKind) tallyCovers() Resource       { return FDs | Sockets }

func (fdKind) details(base, now *Snapshot, items []Item) string {
	if base.FDs == nil || now.FDs == nil {
		return ""
	}
	return fmt.Sprintf("== descriptors at the baseline\n%s\n\n== descriptors at the verdict\n%s\n", base.FDs, now.FDs) + originStacks(items)
}

// originStacks renders where each item was created, every frame, for
// artifacts.
func originStacks(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		if it.stack != "" {
			if b.Len() == 0 {
				b.WriteString("\n== where they were created\n")
			}
			fmt.Fprintf(&b, "%s:\n%s", it, it.stack)
		}
	}
	return b.String()
}

// testingFlags name files the testing package itself opens (in
// testing.(*M).Run, before any test): they are never a test's leak.
var testingFlags = []string{
	"test.testlogfile", "test.cpuprofile", "test.memprofile", "test.blockprofile",
	"test.mutexprofile", "test.trace", "test.coverprofile",
}

// isTestingFile reports whether fd is a file the testing framework opened,
// as the test binary's flags name them.
func isTestingFile(fd fdsnap.FD) bool {
	p := fd.Path()
	if p == "" {
		return false
	}
	outdir := lookupFlag("test.outputdir")
	for _, name := range testingFlags {
		v := lookupFlag(name)
		if v == "" {
			continue
		}
		if !filepath.IsAbs(v) {
			if outdir != "" {
				v = filepath.Join(outdir, v)
			} else if abs, err := filepath.Abs(v); err == nil {
				v = abs
			}
		}
		if p == v {
			return true
		}
	}
	return false
}

// lookupFlag returns the value of a command-line flag, "" if undefined.
func lookupFlag(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func (fdKind) lookupOrigin(tr *origin.Tracer, it Item) (origin.Origin, bool) {
	return tr.FD(int(it.ID))
}
