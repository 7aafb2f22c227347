package main

import (
	"slices"
	"time"

	"github.com/leakcheck/go/leakcheck"
)

// A full snapshot taken at one sample.
type look struct {
	sample int           // its index in the series
	at     time.Duration // since the watch started
	snap   *leakcheck.Snapshot
	tree   []member // with --tree: every process of the tree, the target first
}

// maxBases bounds the snapshots a baseKeeper holds.
const maxBases = 32

// baseKeeper keeps the full snapshots that can still become the final
// diff's base, the first one after the warm-up. The warm-up is a share of
// the samples, so while the watch runs the sample that ends it moves on,
// and a watch without --duration does not know where it will be. The
// keeper holds every snapshot from the current end of the warm-up on, at
// most maxBases of them: when more would be needed it keeps every other
// one (and from then on one in two, then one in four, …), so the base is
// the exact first snapshot after the warm-up in a watch of up to about 40
// samples, and in longer ones at most a sixteenth of the samples after the
// warm-up later; the summary says which sample it is.
type baseKeeper struct {
	stride int // keep samples whose index is a multiple of it
	kept   []look
}

// add offers the look at a sample; warmupEnd is the first sample after
// the warm-up as it stands now (it never moves back).
func (k *baseKeeper) add(l look, warmupEnd int) {
	if k.stride == 0 {
		k.stride = 1
	}
	k.kept = slices.DeleteFunc(k.kept, func(e look) bool { return e.sample < warmupEnd })
	if l.sample%k.stride == 0 {
		k.kept = append(k.kept, l)
	}
	if len(k.kept) > maxBases {
		k.stride *= 2
		k.kept = slices.DeleteFunc(k.kept, func(e look) bool { return e.sample%k.stride != 0 })
	}
}

// base returns the first kept look at or after warmupEnd.
func (k *baseKeeper) base(warmupEnd int) (look, bool) {
	for _, e := range k.kept {
		if e.sample >= warmupEnd {
			return e, true
		}
	}
	return look{}, false
}
