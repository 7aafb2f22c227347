package heapdiff_test

import (
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/heapdiff"
)

// Real program counters for synthetic profiles, so that Diff symbolizes
// them as it would a runtime.MemProfile stack.

//go:noinline
func stackA() []uintptr { return callers() }

//go:noinline
func stackB() []uintptr { return callers() }

// stackInSort is taken inside a closure that the standard library (sort)
// calls: frames of the user, then the standard library, then the user.
// Without its first PC (the closure), it starts in the standard library.
//
//go:noinline
func stackInSort() []uintptr {
	var pcs []uintptr
	v := []int{2, 1}
	sort.Slice(v, func(i, j int) bool {
		if pcs == nil {
			pcs = callers()
		}
		return v[i] < v[j]
	})
	return pcs
}

func callers() []uintptr {
	pc := make([]uintptr, 32)
	return pc[:runtime.Callers(2, pc)]
}

func rec(stk []uintptr, bytes, objects int64) heapdiff.Record {
	return heapdiff.Record{Stack: stk, Bytes: bytes, Objects: objects}
}

func TestDiff(t *testing.T) {
	a, b, inSort := stackA(), stackB(), stackInSort()
	isStackB := func(f runtime.Frame) bool { return strings.HasSuffix(f.Function, ".stackB") }
	type want struct {
		fn             string // suffix of Site.User.Function; "" for none
		bytes, objects int64
	}
	for _, tc := range []struct {
		name          string
		before, after []heapdiff.Record
		user          func(runtime.Frame) bool
		want          []want
	}{
		{
			name:   "a site that grew: the growth, not the total",
			before: []heapdiff.Record{rec(a, 4096, 1)},
			after:  []heapdiff.Record{rec(a, 3*4096, 3)},
			want:   []want{{".stackA", 2 * 4096, 2}},
		},
		{
			name:  "a site that is new",
			after: []heapdiff.Record{rec(b, 64, 2)},
			want:  []want{{".stackB", 64, 2}},
		},
		{
			name:   "a site that shrank or stayed is not listed",
			before: []heapdiff.Record{rec(a, 4096, 1), rec(b, 64, 1)},
			after:  []heapdiff.Record{rec(b, 64, 1)},
		},
		{
			name:   "most bytes first",
			before: []heapdiff.Record{rec(a, 0, 0)},
			after:  []heapdiff.Record{rec(a, 100, 1), rec(b, 1000, 1)},
			want:   []want{{".stackB", 1000, 1}, {".stackA", 100, 1}},
		},
		{
			name:   "fewer, larger objects: bytes grew, objects shrank",
			before: []heapdiff.Record{rec(a, 64, 4)},
			after:  []heapdiff.Record{rec(a, 4096, 1)},
			want:   []want{{".stackA", 4096 - 64, -3}},
		},
		{
			name:  "the user frame is the innermost the predicate accepts, past the standard library",
			after: []heapdiff.Record{rec(inSort[1:], 32, 1)},
			want:  []want{{".stackInSort", 32, 1}},
		},
		{
			name:  "a predicate that accepts no frame: no user frame",
			after: []heapdiff.Record{rec(a, 32, 1)},
			user:  isStackB,
			want:  []want{{"", 32, 1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sites, err := heapdiff.Diff(&heapdiff.Profile{Rate: 1, Records: tc.before}, &heapdiff.Profile{Rate: 1, Records: tc.after}, tc.user)
			require.NoError(t, err)
			var got []want
			for _, s := range sites {
				w := want{"", s.Bytes, s.Objects}
				if s.User.Function != "" {
					w.fn = s.User.Function[strings.LastIndexByte(s.User.Function, '.'):]
				}
				got = append(got, w)
				assert.NotEmpty(t, s.Stack)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDiffMisuse(t *testing.T) {
	_, err := heapdiff.Diff(&heapdiff.Profile{Rate: 1}, &heapdiff.Profile{Rate: 512 << 10}, nil)
	assert.EqualError(t, err, "heapdiff: Diff of profiles at rates 1 and 524288: capture both at one rate (see SetRate)")
	_, err = heapdiff.Diff(nil, &heapdiff.Profile{Rate: 1}, nil)
	assert.EqualError(t, err, "heapdiff: Diff needs two profiles, got before=false after=true")
}

// The memory a captured profile holds (its records, its protobuf) is in
// use when the next one is captured; Diff does not blame it on anyone.
func TestDiffLeavesOutCaptures(t *testing.T) {
	setRate(t, 1)
	p0, err := heapdiff.Capture()
	require.NoError(t, err)
	p1, err := heapdiff.Capture()
	require.NoError(t, err)
	p2, err := heapdiff.Capture()
	require.NoError(t, err)
	sites, err := heapdiff.Diff(p0, p2, nil)
	require.NoError(t, err)
	for _, s := range sites {
		for _, f := range s.Stack {
			assert.NotContains(t, f.Function, "heapdiff.capture", "%v", s)
		}
	}
	runtime.KeepAlive(p1)
}

func TestSiteString(t *testing.T) {
	for _, tc := range []struct {
		name string
		site heapdiff.Site
		want string
	}{
		{
			"exact bytes below 10 KiB, the user frame with its line",
			heapdiff.Site{Bytes: 4096, Objects: 1, User: runtime.Frame{Function: "example.com/pool.(*Registry).Add", File: "/src/pool/registry.go", Line: 31}},
			"+4096 B in 1 object at example.com/pool.(*Registry).Add (/src/pool/registry.go:31)",
		},
		{
			"binary units above",
			heapdiff.Site{Bytes: 800 << 10, Objects: 200, User: runtime.Frame{Function: "main.leak", File: "/src/main.go", Line: 9}},
			"+800.0 KiB in 200 objects at main.leak (/src/main.go:9)",
		},
		{
			"no frame in the user's code",
			heapdiff.Site{Bytes: 480, Objects: 1},
			"+480 B in 1 object at (no frame in the user's code)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.site.String()) })
	}
}
