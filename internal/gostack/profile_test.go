package gostack

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProfileFixture(t *testing.T) {
	f, err := os.Open("testdata/go1.26.pprof-debug1.txt")
	require.NoError(t, err)
	defer f.Close()
	recs, err := ParseProfile(f)
	require.NoError(t, err)

	total := 0
	var leaky, labeled, deep *ProfileRecord
	for i := range recs {
		r := &recs[i]
		total += r.Count
		require.NotEmpty(t, r.PCs)
		require.NotEmpty(t, r.Frames)
		switch {
		case r.Labels != nil:
			labeled = r
		case r.Frames[0].Func == genPkg+"leaky.func1":
			leaky = r
		case r.Frames[0].Func == genPkg+"recurse":
			deep = r
		}
	}
	assert.Equal(t, 29, total, "the header's total")
	require.NotNil(t, leaky)
	assert.Equal(t, 3, leaky.Count, "three identical leaky goroutines share a record")
	assert.Equal(t, "gen_test.go", leaky.Frames[0].File[strings.LastIndexByte(leaky.Frames[0].File, '/')+1:])
	require.NotNil(t, labeled)
	assert.Equal(t, map[string]string{
		"leakcheck.test": "TestDump/sub-1",
		"odd key":        "a \"quoted\" value\twith tab and ✓",
	}, labeled.Labels)
	assert.Equal(t, genPkg+"blockRecv", labeled.Frames[0].Func)
	require.NotNil(t, deep)
	assert.Greater(t, len(deep.PCs), 32, "the profile keeps deeper stacks than runtime.StackRecord")
}

func TestParseProfileErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"empty", "", "empty goroutine profile"},
		{"wrong header", "heap profile: 1\n", "line 1: want"},
		{"bad total", "goroutine profile: total x\n", "line 1: bad total"},
		{"bad count", "goroutine profile: total 1\nx @ 0x1\n", "line 2: bad count"},
		{"bad pc", "goroutine profile: total 1\n1 @ 0xzz\n", `line 2: bad pc "0xzz"`},
		{"pc without 0x", "goroutine profile: total 1\n1 @ 12\n", `bad pc "12"`},
		{"frame outside record", "goroutine profile: total 1\n#\t0x1\tmain.f+0x1\t/src/f.go:1\n", "line 2: frame outside a record"},
		{"labels after frames", "goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.f+0x1\t/src/f.go:1\n# labels: {\"a\":\"b\"}\n", "line 4: labels outside a record"},
		{"bad labels", "goroutine profile: total 1\n1 @ 0x1\n# labels: {\"a\"}\n", "line 3: label without ':'"},
		{"bad frame", "goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.f\n", "line 3: want pc, function and position"},
		{"junk in record", "goroutine profile: total 1\n1 @ 0x1\nhello\n", "line 3: unexpected line in record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ParseProfile(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Nil(t, recs)
		})
	}
}
