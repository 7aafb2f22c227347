package gostack

import (
	"context"
	"runtime/pprof"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// settledCensus takes censuses until two in a row agree, so goroutines the
// testing package or an earlier test is still winding down do not count.
func settledCensus(t testing.TB, take func() (*Census, error)) *Census {
	t.Helper()
	// The testing package's main goroutine may still be on its way into
	// T.Run's wait for this test (runnable, at another line) when the test
	// starts, and would count as growth once it parks: wait until every
	// other goroutine is parked.
	me := CurrentID()
	waitFor(t, func() bool {
		all, err := All()
		require.NoError(t, err)
		for _, g := range all {
			if g.ID != me && (g.State == "running" || g.State == "runnable") {
				return false
			}
		}
		return true
	})
	prev, err := take()
	require.NoError(t, err)
	var c *Census
	waitFor(t, func() bool {
		c, err = take()
		require.NoError(t, err)
		same := !c.Grew(prev) && !prev.Grew(c)
		prev = c
		return same
	})
	return c
}

func TestCensusLeakyAndClean(t *testing.T) {
	base := settledCensus(t, TakeCensus)

	// Nothing happened: a census from another call site equals the baseline
	// (the caller is not counted).
	again, err := TakeCensus()
	require.NoError(t, err)
	assert.False(t, again.Grew(base))
	assert.Empty(t, again.Growth(base))
	assert.Equal(t, base.Len(), again.Len(), "the caller is not counted")
	assert.True(t, again.Same(base))

	// Leaky: five goroutines parked in parkHere.
	ids, release := parked(t, 5)
	leaky, err := TakeCensus()
	require.NoError(t, err)
	assert.True(t, leaky.Grew(base))
	assert.False(t, leaky.Same(base), "grown")
	assert.False(t, base.Same(leaky), "shrunk, seen from the other side")
	assert.GreaterOrEqual(t, leaky.Len(), 5)
	growth := leaky.Growth(base)
	require.Len(t, growth, 1)
	assert.Equal(t, 5, growth[0].Count)
	assert.Equal(t, 5, growth[0].Total)
	assert.Equal(t, parkHereFunc, growth[0].TopFunction())
	assert.Nil(t, growth[0].Labels)
	assert.Contains(t, growth[0].String(), "5 × "+parkHereFunc+"\n    "+parkHereFunc+"\n        ")

	// The full dump names exactly those five, by ID.
	all, err := All()
	require.NoError(t, err)
	var got []uint64
	for _, g := range NewSince(growth, all) {
		got = append(got, g.ID)
	}
	assert.Equal(t, ids, got)

	// Clean again once they exit.
	release()
	var after *Census
	waitFor(t, func() bool {
		after, err = TakeCensus()
		require.NoError(t, err)
		return !after.Grew(base)
	})
	assert.Empty(t, after.Growth(base))
}

// Growth only counts what is above the baseline: with 3 parked before and 5
// after, 2 are new. NewSince names two goroutines with that stack, which
// need not be the two new ones (see its doc); NewSinceIDs against a
// baseline of IDs is exact.
func TestCensusGrowthAboveBaseline(t *testing.T) {
	oldIDs, _ := parked(t, 3)
	base := settledCensus(t, TakeCensus)
	baseIDs := IDs()
	newIDs, _ := parked(t, 2)
	c, err := TakeCensus()
	require.NoError(t, err)
	growth := c.Growth(base)
	require.Len(t, growth, 1)
	assert.Equal(t, 2, growth[0].Count)
	assert.Equal(t, 5, growth[0].Total)
	all, err := All()
	require.NoError(t, err)
	picked := NewSince(growth, all)
	require.Len(t, picked, 2)
	for _, g := range picked {
		assert.Contains(t, append(slices.Clone(oldIDs), newIDs...), g.ID)
		assert.Equal(t, parkHereFunc, g.TopFunction())
	}

	var exact []uint64
	for _, g := range NewSinceIDs(baseIDs, all) {
		if g.ID != CurrentID() {
			exact = append(exact, g.ID)
		}
	}
	assert.Equal(t, newIDs, exact)
}

// A goroutine that exits while another with the same stack starts is
// invisible to an unlabeled census (documented on Census); a label the
// baseline did not have makes the swap visible.
func TestCensusSwap(t *testing.T) {
	_, releaseOld := parked(t, 1)
	base := settledCensus(t, TakeCensus)
	lbase := settledCensus(t, TakeLabeledCensus)

	releaseOld()
	var newIDs []uint64
	pprof.Do(context.Background(), pprof.Labels("leakcheck.test", t.Name()), func(context.Context) {
		newIDs, _ = parked(t, 1)
	})

	c, err := TakeCensus()
	require.NoError(t, err)
	assert.False(t, c.Grew(base), "the unlabeled census cannot see a same-stack swap")

	lc, err := TakeLabeledCensus()
	require.NoError(t, err)
	require.True(t, lc.Grew(lbase), "the labeled census sees the new label")
	growth := lc.Growth(lbase)
	require.Len(t, growth, 1)
	assert.Equal(t, map[string]string{"leakcheck.test": t.Name()}, growth[0].Labels)
	assert.Equal(t, parkHereFunc, growth[0].TopFunction())
	all, err := All()
	require.NoError(t, err)
	got := NewSince(growth, all)
	require.Len(t, got, 1)
	assert.Equal(t, newIDs[0], got[0].ID)
}

// withLabel counts the goroutines of c that carry the pprof label
// key=value; always 0 for an unlabeled census.
func withLabel(c *Census, key, value string) int {
	n := 0
	for _, g := range c.GroupsWithLabel(key, func(v string) bool { return v == value }) {
		n += g.Count
	}
	return n
}

func TestLabeledCensus(t *testing.T) {
	base := settledCensus(t, TakeLabeledCensus)
	assert.True(t, base.Labeled())
	assert.Zero(t, withLabel(base, "leakcheck.test", t.Name()))

	var ids []uint64
	pprof.Do(context.Background(), pprof.Labels("leakcheck.test", t.Name(), "extra", "x"), func(context.Context) {
		ids, _ = parked(t, 4)
	})
	_, _ = parked(t, 2) // unlabeled, same stack

	c, err := TakeLabeledCensus()
	require.NoError(t, err)
	assert.Equal(t, 4, withLabel(c, "leakcheck.test", t.Name()))
	assert.Equal(t, 4, withLabel(c, "extra", "x"))
	assert.Zero(t, withLabel(c, "leakcheck.test", "TestOther"))
	assert.Empty(t, c.GroupsWithLabel("leakcheck.test", func(v string) bool { return v == "TestOther" }))
	groups := c.GroupsWithLabel("leakcheck.test", func(v string) bool { return v == t.Name() })
	require.Len(t, groups, 1)
	assert.Equal(t, 4, groups[0].Count)
	assert.Equal(t, parkHereFunc, groups[0].TopFunction())
	assert.True(t, groups[0].HasFunction(parkHereFunc))

	growth := c.Growth(base)
	require.Len(t, growth, 2, "labeled and unlabeled groups of the same stack")
	assert.Equal(t, 4, growth[0].Count)
	assert.Equal(t, 2, growth[1].Count)
	assert.GreaterOrEqual(t, c.Len(), 6)

	// An unlabeled census has no labels to count.
	u, err := TakeCensus()
	require.NoError(t, err)
	assert.False(t, u.Labeled())
	assert.Zero(t, withLabel(u, "leakcheck.test", t.Name()))

	all, err := All()
	require.NoError(t, err)
	picked := NewSince(growth, all)
	assert.Len(t, picked, 6)
	for _, id := range ids {
		assert.True(t, slices.ContainsFunc(picked, func(g Goroutine) bool { return g.ID == id }))
	}
}

func TestGroupMatches(t *testing.T) {
	frames := []Frame{{Func: "main.f", File: "/src/f.go", Line: 3}, {Func: "main.g", File: "/src/g.go", Line: 9}}
	g := Goroutine{ID: 1, State: "chan receive", Frames: frames}
	tests := []struct {
		name  string
		group Group
		want  bool
	}{
		{"same frames", Group{Frames: frames}, true},
		{"different line", Group{Frames: []Frame{frames[0], {Func: "main.g", File: "/src/g.go", Line: 10}}}, false},
		{"shorter, not truncated", Group{Frames: frames[:1]}, false},
		{"shorter, truncated census stack", Group{Frames: frames[:1], truncated: true}, true},
		{"labeled group, dump without labels", Group{Frames: frames, Labels: map[string]string{"k": "v"}, labeled: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.group.Matches(g))
		})
	}
	withLabels := g
	withLabels.Labels = map[string]string{"k": "v"}
	assert.True(t, Group{Frames: frames, Labels: map[string]string{"k": "v"}, labeled: true}.Matches(withLabels))
	assert.False(t, Group{Frames: frames, Labels: map[string]string{"k": "w"}, labeled: true}.Matches(withLabels), "labels differ")
	assert.False(t, Group{Frames: frames, labeled: true}.Matches(withLabels), "group without labels, goroutine with")

	gr := Group{Frames: frames, Labels: map[string]string{"k": "v"}}.Goroutine()
	assert.Equal(t, Goroutine{Frames: frames, Labels: map[string]string{"k": "v"}}, gr)
}

func TestShownInTraceback(t *testing.T) {
	for fn, want := range map[string]bool{
		"main.f":                         true,
		"internal/poll.runtime_pollWait": true,
		"runtime.gopark":                 false,
		"runtime.goexit":                 false,
		"runtime.Goexit":                 true,
		"runtime.(*Func).Name":           true,
		"runtime.(*Func).name":           false,
		"runtime.(*mheap).alloc":         false,
		"runtime.ReadTrace":              true,
		"noDot":                          false,
	} {
		assert.Equal(t, want, shownInTraceback(fn), fn)
	}
}
