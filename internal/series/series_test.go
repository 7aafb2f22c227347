package series

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var t0 = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)

// fixedSeries is a soak of 50 samples, 100ms apart, of a process that
// opens a pool of files while it starts, then leaks one CLOSE_WAIT socket
// per iteration; one sample has a spike of pipes, and a named thread
// starts halfway.
func fixedSeries() *Series {
	s := &Series{Target: "pid 4242 (server)"}
	for i := range 50 {
		files := min(3+i, 8) // the pool fills during the warm-up
		pipes := 0
		if i == 30 {
			pipes = 6
		}
		closeWait := max(0, i-10)
		c := Counts{
			"fds": files + pipes + 2, "fds/file": files, "fds/pipe": pipes, "fds/eventpoll": 1, "fds/eventfd": 1,
			"sockets": 1 + closeWait, "sockets/tcp LISTEN": 1, "sockets/tcp CLOSE_WAIT": closeWait,
			"threads": 5, "threads/server": 5,
		}
		if i >= 25 {
			c["threads"]++
			c["threads/gc worker"] = 1
		}
		s.Add(i, t0.Add(time.Duration(i)*100*time.Millisecond), c)
	}
	return s
}

func TestKeysOrder(t *testing.T) {
	s := &Series{}
	s.Add(0, t0, Counts{"threads/b": 1, "zz": 1, "sockets": 1, "fds/pipe": 1, "threads": 1, "fds": 1, "goroutines": 3, "fds/file": 1, "threads/a": 1,
		"processes/sleep *": 1, "processes": 1, "heap": 5})
	assert.Equal(t, []string{"goroutines", "fds", "fds/file", "fds/pipe", "sockets", "threads", "threads/a", "threads/b", "processes", "processes/sleep *", "heap", "zz"}, s.Keys(),
		"resources in report order (processes after threads, as leakcheck reports them), each total before its categories, unknown keys last, by name")
}

func linear(n int, f func(i int) int) *Series {
	s := &Series{}
	for i := range n {
		s.Add(i, t0.Add(time.Duration(i)*500*time.Millisecond), Counts{"k": f(i)})
	}
	return s
}

func TestStats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		why    string
		s      *Series
		warmup float64
		want   Stats
	}{
		{
			name: "linear growth", why: "one per iteration, two per second at 500ms a sample",
			s: linear(10, func(i int) int { return 3 + i }), warmup: 0,
			want: Stats{Key: "k", Start: 3, End: 12, Max: 12, Growth: 9, PerIteration: 1, PerSecond: 2, Fitted: true},
		},
		{
			name: "flat with a spike", why: "Theil–Sen ignores one outlier, so a burst is not growth",
			s: linear(20, func(i int) int {
				if i == 12 {
					return 50
				}
				return 4
			}), warmup: 0,
			want: Stats{Key: "k", Start: 4, End: 4, Max: 50, Growth: 0, PerIteration: 0, PerSecond: 0, Fitted: true},
		},
		{
			name: "start-up plateau", why: "a pool filled during the warm-up is neither growth nor slope",
			s: linear(20, func(i int) int { return min(i, 4) * 10 }), warmup: 0.25,
			want: Stats{Key: "k", Start: 40, End: 40, Max: 40, Growth: 0, PerIteration: 0, PerSecond: 0, Fitted: true},
		},
		{
			name: "start-up plateau, no warm-up", why: "without a warm-up the plateau reads as start-to-end growth",
			s: linear(20, func(i int) int { return min(i, 4) * 10 }), warmup: 0,
			want: Stats{Key: "k", Start: 0, End: 40, Max: 40, Growth: 40, PerIteration: 0, PerSecond: 0, Fitted: true},
		},
		{
			name: "one sample", why: "no slope can be fitted to one point",
			s: linear(1, func(int) int { return 7 }), warmup: 0.2,
			want: Stats{Key: "k", Start: 7, End: 7, Max: 7},
		},
		{
			name: "warm-up keeps two samples", why: "a large warm-up on a short series still leaves a fit",
			s: linear(3, func(i int) int { return i }), warmup: 0.9,
			want: Stats{Key: "k", Start: 1, End: 2, Max: 2, Growth: 1, PerIteration: 1, PerSecond: 2, Fitted: true},
		},
		{
			name: "shrinking", why: "negative growth is reported as such",
			s: linear(5, func(i int) int { return 10 - 2*i }), warmup: 0,
			want: Stats{Key: "k", Start: 10, End: 2, Max: 10, Growth: -8, PerIteration: -2, PerSecond: -4, Fitted: true},
		},
		{
			name: "empty", why: "no samples: zeros, not a panic",
			s: &Series{}, warmup: 0.2,
			want: Stats{Key: "k"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.Stats("k", tc.warmup)
			assert.Equal(t, tc.want.Start, got.Start, tc.why)
			assert.Equal(t, tc.want.End, got.End, tc.why)
			assert.Equal(t, tc.want.Max, got.Max, tc.why)
			assert.Equal(t, tc.want.Growth, got.Growth, tc.why)
			assert.Equal(t, tc.want.Fitted, got.Fitted, tc.why)
			assert.InDelta(t, tc.want.PerIteration, got.PerIteration, 1e-9, tc.why)
			assert.InDelta(t, tc.want.PerSecond, got.PerSecond, 1e-9, tc.why)
		})
	}
}

func TestStatsMissingKey(t *testing.T) {
	s := fixedSeries()
	st := s.Stats("threads/gc worker", 0)
	assert.Equal(t, 0, s.Values("threads/gc worker")[0], "a sample without the key counted 0")
	assert.Equal(t, 1, st.End)
	assert.Equal(t, 1, st.Growth)
}

func TestCheckWarmup(t *testing.T) {
	for _, ok := range []float64{0, 0.2, 0.99} {
		assert.NoError(t, CheckWarmup(ok), ok)
	}
	for _, bad := range []float64{-0.1, 1, 2, math.NaN()} {
		assert.ErrorContains(t, CheckWarmup(bad), "want a fraction", bad)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), string(got), "golden file %s; regenerate with go test -run %s -update", path, t.Name())
}

func TestWriteTableGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, fixedSeries().Summary(0.2)))
	golden(t, "summary.txt", b.Bytes())
	assert.Contains(t, b.String(), "  tcp CLOSE_WAIT", "categories are indented under their total")
}

func TestStatsString(t *testing.T) {
	st := fixedSeries().Stats("sockets/tcp CLOSE_WAIT", 0.2)
	assert.Equal(t, "sockets/tcp CLOSE_WAIT 0 → 39 (max 39, +1.000/iter, +10.00/s)", st.String())
	assert.Equal(t, "k 7 → 7 (max 7, no slope)", linear(1, func(int) int { return 7 }).Stats("k", 0).String())
}

func TestJSONRoundTrip(t *testing.T) {
	s := fixedSeries()
	var b bytes.Buffer
	require.NoError(t, s.WriteJSON(&b))
	golden(t, "series.json", b.Bytes())
	got, err := ReadJSON(&b)
	require.NoError(t, err)
	assert.Equal(t, s.Target, got.Target)
	require.Equal(t, s.Len(), got.Len())
	for i := range s.Samples {
		assert.True(t, s.Samples[i].Time.Equal(got.Samples[i].Time), "sample %d time", i)
		assert.Equal(t, s.Samples[i].Iteration, got.Samples[i].Iteration)
		assert.Equal(t, s.Samples[i].Counts, got.Samples[i].Counts)
	}
	assert.Equal(t, s.Summary(0.2), got.Summary(0.2), "a decoded series says the same")
}

func TestReadJSONErrors(t *testing.T) {
	for _, tc := range []struct{ in, want, why string }{
		{`{"schema":"other/v9","samples":[]}`, `schema "other/v9"`, "another schema is refused, not misread"},
		{`{"schema":"leakcheck.series/v1","samples":[{"iteration":0,"time":"2025-01-02T15:04:06Z","counts":{}},{"iteration":1,"time":"2025-01-02T15:04:05Z","counts":{}}]}`, "order of time", "samples out of order"},
		{`{"schema":"leakcheck.series/v1","samples":[{"iteration":0,"time":"2025-01-02T15:04:05Z","counts":{"fds":-1}}]}`, "negative count", "a count below zero"},
		{`{"schema":"leakcheck.series/v1","samples":[{"iteration":0,"time":"2025-01-02T15:04:05Z","counts":{"":1}}]}`, "empty category key", "an empty key"},
		{`{"schema":"leakcheck.series/v1","samples":[{"time":"yesterday"}]}`, "series:", "a bad time"},
		{`{"schema":`, "unexpected EOF", "truncated input"},
		{``, "EOF", "no input"},
	} {
		_, err := ReadJSON(strings.NewReader(tc.in))
		assert.ErrorContains(t, err, tc.want, tc.why)
	}
}

func FuzzReadJSON(f *testing.F) {
	var b bytes.Buffer
	_ = fixedSeries().WriteJSON(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"schema":"leakcheck.series/v1","samples":[{"iteration":0,"time":"2025-01-02T15:04:05Z","counts":{"fds":1}}]}`))
	f.Add([]byte(`{"schema":"leakcheck.series/v1","samples":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadJSON(bytes.NewReader(in))
		if err != nil {
			return
		}
		// Whatever decodes must summarise, chart and encode again to the
		// same series.
		_ = s.Summary(0.2)
		if err := s.WriteSVG(io.Discard, ChartOptions{Warmup: 0.2}); err != nil {
			t.Fatalf("WriteSVG of a decoded series: %v", err)
		}
		var out bytes.Buffer
		if err := s.WriteJSON(&out); err != nil {
			t.Fatalf("WriteJSON of a decoded series: %v", err)
		}
		again, err := ReadJSON(&out)
		if err != nil {
			t.Fatalf("re-reading %s: %v", out.Bytes(), err)
		}
		if again.Len() != s.Len() || again.Target != s.Target {
			t.Fatalf("round trip changed the series: %d/%q → %d/%q", s.Len(), s.Target, again.Len(), again.Target)
		}
	})
}

func TestWriteSVGGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, fixedSeries().WriteSVG(&b, ChartOptions{Title: "leakwatch: pid 4242 (server)", Lines: 5, Warmup: 0.2}))
	golden(t, "chart.svg", b.Bytes())

	// It is well-formed XML with one polyline per drawn category, and the
	// fastest-growing category is first in the legend.
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	var polylines int
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the SVG must parse as XML")
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	assert.Equal(t, 5, polylines, "Lines: 5 draws five categories")
	assert.Contains(t, texts, "sockets 1→40", "legend entries give start→end after the warm-up")
	assert.Contains(t, texts, "… and 6 more categories", "what was left out is counted")
	assert.Contains(t, texts, "warm-up")
	assert.Contains(t, texts, "seconds")
}

func TestWriteSVGEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *Series
		want string
	}{
		{"no samples", &Series{Target: "pid 1"}, "no samples"},
		{"one sample", linear(1, func(int) int { return 3 }), "iteration"},
		{"all zero", linear(4, func(int) int { return 0 }), "seconds"},
		{"markup in names", func() *Series {
			s := &Series{Target: `<pid & "1">`}
			s.Add(0, t0, Counts{"threads/<b>&": 1})
			s.Add(1, t0.Add(time.Second), Counts{"threads/<b>&": 2})
			return s
		}(), "threads/&lt;b&gt;&amp;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, tc.s.WriteSVG(&b, ChartOptions{}))
			assert.Contains(t, b.String(), tc.want)
			var v any
			assert.NoError(t, xml.Unmarshal(b.Bytes(), &v), "well-formed")
		})
	}
	assert.ErrorContains(t, linear(3, func(int) int { return 0 }).WriteSVG(io.Discard, ChartOptions{Warmup: 1}), "warm-up")
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct {
		span, min, want float64
	}{{39, 1, 10}, {4.9, 0, 1}, {0.5, 0, 0.1}, {100, 1, 20}, {3, 1, 1}, {0, 1, 1}, {7000, 1, 2000}} {
		assert.Equal(t, tc.want, niceStep(tc.span, 5, tc.min), "span %v", tc.span)
	}
	assert.Equal(t, "0.5", tick(0.5, 0.1))
	assert.Equal(t, "20", tick(20, 10))
}

// The JSON encoding must be stable: equal series, equal bytes.
func TestJSONStable(t *testing.T) {
	a, err := json.Marshal(fixedSeries())
	require.NoError(t, err)
	b, err := json.Marshal(fixedSeries())
	require.NoError(t, err)
	assert.Equal(t, a, b)
}
