package leakcheck

import (
	"errors"
	"fmt"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/internal/origin"
	"github.com/leakcheck/go/sockstate"
)

// socketKind is the socket descriptors, by inode, described by protocol,
// state and addresses.
type socketKind struct{}

func (socketKind) resource() Resource          { return Sockets }
func (socketKind) names() (string, string)     { return "socket", "sockets" }
func (socketKind) itemNouns() (string, string) { return "fd", "fds" }
func (socketKind) goName() string              { return "Sockets" }
func (socketKind) processWide()                {}
func (socketKind) finalizerLeak()              {}
func (socketKind) costOf() Resource            { return FDs }
func (socketKind) collected(s *Snapshot) bool  { return s.FDs != nil }

func (socketKind) collect(s *Snapshot, l look) error {
	if err := s.fdTable(l); err != nil {
		return err
	}
	switch l {
	case fullLook:
		socks, err := s.target.sockets(s.FDs)
		if err != nil {
			return err
		}
		s.Sockets = socks
	case sampleLook:
		counts, err := s.target.socketCounts(s.FDs)
		if err != nil {
			return err
		}
		s.socketClasses = counts
	}
	return nil
}

func (socketKind) diff(d *diffing, base, now *Snapshot) ([]Item, error) {
	var fds []fdsnap.FD
	for _, fd := range opened(base, now) {
		if fd.Kind == fdsnap.Socket {
			fds = append(fds, fd)
		}
	}
	if len(fds) == 0 {
		return nil, nil
	}
	// Sockets are described for a report, or to be filtered; a settle
	// poll without filters only counts them.
	var socks map[uint64]sockstate.Socket
	if now.look.detailed() || now.Sockets != nil || len(d.cfg.socketFilters) > 0 {
		var err error
		if socks, err = now.sockets(); err != nil {
			// Shown by inode then, and said why.
			socks = nil
			if !errors.Is(err, errors.ErrUnsupported) {
				d.notes = append(d.notes, fmt.Sprintf("sockets not described: %v", err))
			}
		}
	}
	if len(d.cfg.socketFilters) > 0 {
		byFD := make([]filter[fdsnap.FD], len(d.cfg.socketFilters))
		for i, f := range d.cfg.socketFilters {
			byFD[i] = filter[fdsnap.FD]{name: f.name, drop: func(fd fdsnap.FD) bool {
				s, ok := socks[fd.Ino]
				return ok && f.drop(s)
			}}
		}
		fds = keep(d, fds, byFD)
	}
	items := make([]Item, 0, len(fds))
	for _, fd := range fds {
		it := Item{Resource: Sockets, ID: uint64(fd.Num), Text: fd.Describe(), group: "socket"}
		if s, ok := socks[fd.Ino]; ok {
			it.Text = s.Describe()
			it.group = sockstate.Class{Proto: s.Proto, State: s.State}.String()
		}
		items = append(items, it)
	}
	return items, nil
}

// sockets returns the sockets behind the snapshot's descriptors, by inode:
// those it stored, or else read now. Sockets read now are kept (checks own
// the snapshots they take), so a check that filters sockets and then
// reports them reads them once.
func (s *Snapshot) sockets() (map[uint64]sockstate.Socket, error) {
	if s.socketsByInode != nil {
		return s.socketsByInode, nil
	}
	snap := s.Sockets
	if snap == nil {
		var err error
		if snap, err = s.target.sockets(s.FDs); err != nil {
			return nil, s.target.err(err)
		}
	}
	m := make(map[uint64]sockstate.Socket, len(snap.Sockets))
	for _, so := range snap.Sockets {
		m[so.Inode] = so
	}
	s.socketsByInode = m
	return m, nil
}

func (socketKind) count(s *Snapshot, m map[string]int) {
	classes := s.socketClasses
	if classes == nil && s.Sockets != nil {
		classes = s.Sockets.Counts()
	}
	for class, n := range classes {
		m["sockets"] += n
		m["sockets/"+class.String()] += n
	}
}

func (socketKind) details(base, now *Snapshot, items []Item) string { return originStacks(items) }

func (socketKind) lookupOrigin(tr *origin.Tracer, it Item) (origin.Origin, bool) {
	return tr.FD(int(it.ID))
}
