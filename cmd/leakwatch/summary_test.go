package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leakcheck/go/internal/series"
	"github.com/leakcheck/go/leakcheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)

// fixedResult is a 5s watch of a server that fills a file pool while it
// starts and then leaks a CLOSE_WAIT socket every sample.
func fixedResult(t *testing.T, slope, growth string) *result {
	t.Helper()
	s := &series.Series{Target: "pid 4242 (server)"}
	for i := range 51 {
		cw := max(0, i-10)
		s.Add(i, t0.Add(time.Duration(i)*100*time.Millisecond), series.Counts{
			"fds": min(3+i, 8) + 2, "fds/file": min(3+i, 8), "fds/eventpoll": 1, "fds/eventfd": 1,
			"sockets": 1 + cw, "sockets/tcp LISTEN": 1, "sockets/tcp CLOSE_WAIT": cw,
			"threads": 4, "threads/server": 3, "threads/gc": 1,
		})
	}
	var maxSlope, maxGrowth limits
	if slope != "" {
		require.NoError(t, maxSlope.Set(slope))
	}
	if growth != "" {
		require.NoError(t, maxGrowth.Set(growth))
	}
	return &result{
		series: s, interval: 100 * time.Millisecond, warmup: 0.2, ended: "--duration 5s ended",
		stats:    s.Summary(0.2),
		limits:   limitsNote(&maxSlope, &maxGrowth),
		exceeded: exceeded(s, 0.2, &maxSlope, &maxGrowth),
		report: &leakcheck.Report{Target: "pid 4242", Categories: []leakcheck.Category{{
			Resource: leakcheck.Sockets,
			Groups: []leakcheck.Group{{Key: "tcp CLOSE_WAIT", Items: []string{
				"fd 9 tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT",
				"fd 10 tcp 127.0.0.1:51236 → 127.0.0.1:25555 CLOSE_WAIT",
			}}},
		}}},
		baseAt: time.Second, lastAt: 5 * time.Second,
		child: "server (pid 4242) stopped by leakwatch: signal: terminated",
	}
}

func TestSummaryGolden(t *testing.T) {
	r := fixedResult(t, "0.5", "threads=0,fds/file=0")
	var b bytes.Buffer
	require.NoError(t, r.write(&b))
	golden(t, "summary.txt", b.String())
}

func TestSummaryThresholds(t *testing.T) {
	for _, tc := range []struct {
		slope, growth string
		want          []string
		why           string
	}{
		{"", "", nil, "no thresholds, nothing exceeded"},
		{"100", "100", nil, "generous thresholds pass"},
		{"sockets=0.5", "", []string{
			"sockets grew 10 per second (1 per sample), more than --max-slope 0.5",
			"sockets/tcp CLOSE_WAIT grew 10 per second (1 per sample), more than --max-slope 0.5",
		}, "a resource's threshold covers its categories"},
		{"", "fds=0", nil, "the pool filled during the warm-up: no growth after it"},
		{"", "sockets/tcp LISTEN=0,threads/nothing=0", nil, "a category that never appears is judged as zero"},
		{"0.5,sockets/tcp CLOSE_WAIT=20", "", []string{
			"sockets grew 10 per second (1 per sample), more than --max-slope 0.5",
		}, "a category's own threshold wins over the global one"},
	} {
		r := fixedResult(t, tc.slope, tc.growth)
		assert.Equal(t, tc.want, r.exceeded, tc.why)
	}
}

func TestSummaryJSON(t *testing.T) {
	r := fixedResult(t, "0.5", "")
	var b bytes.Buffer
	require.NoError(t, r.writeJSON(&b, exitGrowth))
	var j struct {
		Schema   string         `json:"schema"`
		Series   *series.Series `json:"series"`
		Summary  []series.Stats `json:"summary"`
		Exceeded []string       `json:"exceeded"`
		Diff     *jsonDiff      `json:"diff"`
		Exit     int            `json:"exit_status"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &j))
	assert.Equal(t, watchSchema, j.Schema)
	assert.Equal(t, 51, j.Series.Len(), "the series decodes with its own schema")
	assert.Equal(t, r.stats, j.Summary)
	assert.Equal(t, r.exceeded, j.Exceeded)
	assert.Equal(t, map[string]int{"sockets": 2, "sockets/tcp CLOSE_WAIT": 2}, j.Diff.Counts)
	assert.Equal(t, 1.0, j.Diff.FromSeconds)
	assert.Equal(t, exitGrowth, j.Exit)
}

func TestProgressLine(t *testing.T) {
	s := fixedResult(t, "", "").series
	assert.Equal(t, "5.0s #50  fds 10 (+5)  sockets 41 (+40)  threads 4 (+0)  grows most: sockets/tcp CLOSE_WAIT +40",
		progressLine(s, 5*time.Second))

	var b bytes.Buffer
	p := newProgress(&b, time.Second)
	for i := range 31 {
		p.update(s, time.Duration(i)*100*time.Millisecond)
	}
	p.done()
	assert.Equal(t, 3, strings.Count(b.String(), "\n"), "not a terminal: a line every second: %q", b.String())
	assert.NotContains(t, b.String(), "\r")
}

func TestLimitsSet(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "0.5", want: "0.5"},
		{in: "sockets=0.1,fds/eventfd=0", want: "fds/eventfd=0,sockets=0.1"},
		{in: "1, threads=0", want: "1,threads=0"},
		{in: "sockets/tcp CLOSE_WAIT=0", want: "sockets/tcp CLOSE_WAIT=0"},
		{in: "socks=1", err: `category "socks": want fds, sockets or threads`},
		{in: "fds/=1", err: "name the category after the slash"},
		{in: "sockets=x", err: `"sockets=x": want a number ≥ 0`},
		{in: "-1", err: "want a number ≥ 0"},
		{in: "NaN", err: "want a number ≥ 0"},
		{in: "1,,2", err: "empty item"},
		{in: "goroutines=1", err: "want fds, sockets or threads"},
		{in: "threads/RPC-Processor-7=0", want: "threads/RPC-Processor-*=0"},
	} {
		var l limits
		err := l.Set(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, l.String(), tc.in)
	}
}

func TestLimitInheritance(t *testing.T) {
	var l limits
	require.NoError(t, l.Set("3,sockets=1,sockets/tcp LISTEN=2"))
	for key, want := range map[string]float64{
		"sockets/tcp LISTEN": 2, "sockets/tcp CLOSE_WAIT": 1, "sockets": 1, "fds": 3, "threads/x": 3,
	} {
		got, ok := l.limit(key)
		assert.True(t, ok, key)
		assert.Equal(t, want, got, key)
	}
	var none limits
	_, ok := none.limit("fds")
	assert.False(t, ok, "no threshold given")
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to watch"},
		{[]string{"-p", "1", "--", "true"}, "not both"},
		{[]string{"-p", "-3"}, "want the id of a running process"},
		{[]string{"--interval=0", "-p", "1"}, "--interval 0s"},
		{[]string{"--duration=-1s", "-p", "1"}, "--duration -1s"},
		{[]string{"--warmup=1.5", "-p", "1"}, "--warmup: warm-up share 1.5"},
		{[]string{"--max-slope", "socks=1", "-p", "1"}, `category "socks"`},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"snapshot"}, "-p 0: want the id"},
		{[]string{"snapshot", "-p", "1", "extra"}, "snapshot takes no arguments"},
		{[]string{"diff", "a.json"}, "diff wants two snapshot files"},
		{[]string{"diff", "no-such-a.json", "no-such-b.json"}, "no such file or directory"},
		{[]string{"diff", "--tolerance", "x", "a", "b"}, `"x": want a number`},
	} {
		var out, errOut bytes.Buffer
		status := run(tc.args, &out, &errOut)
		assert.Equal(t, exitUsage, status, "%q", tc.args)
		assert.Contains(t, errOut.String(), tc.want, "%q", tc.args)
		assert.Empty(t, out.String(), "%q: nothing on standard output", tc.args)
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"-h"}, &out, &errOut), "asking for help is not an error")
	assert.Contains(t, errOut.String(), "-max-slope")
}

func FuzzLimitsSet(f *testing.F) {
	for _, s := range []string{"0.5", "sockets=0.1,fds/eventfd=0", "1, threads=0", "x=", "=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var l limits
		if err := l.Set(in); err != nil {
			return
		}
		var again limits
		if err := again.Set(l.String()); err != nil && l.set() {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", in, l.String(), err)
		}
	})
}

func TestFamilyCountsAndReport(t *testing.T) {
	assert.Equal(t, series.Counts{"threads": 4, "threads/RPC-Processor-*": 3, "threads/main": 1, "fds/file": 2},
		familyCounts(series.Counts{"threads": 4, "threads/RPC-Processor-1": 1, "threads/RPC-Processor-2": 1, "threads/RPC-Processor-12": 1, "threads/main": 1, "fds/file": 2}),
		"numbered thread names add up under their family; other keys are kept")

	r := &leakcheck.Report{Target: "pid 7", Categories: []leakcheck.Category{{Resource: leakcheck.Threads, Groups: []leakcheck.Group{
		{Key: "RPC-Processor-2", Items: []string{"thread 12 RPC-Processor-2"}},
		{Key: "gc", Items: []string{"thread 9 gc", "thread 10 gc"}},
		{Key: "RPC-Processor-1", Items: []string{"thread 11 RPC-Processor-1"}},
		{Key: "RPC-Processor-3", Items: []string{"thread 13 RPC-Processor-3"}},
	}}}}
	got := familyReport(r)
	assert.Equal(t, []leakcheck.Group{
		{Key: "RPC-Processor-*", Items: []string{"thread 11 RPC-Processor-1", "thread 12 RPC-Processor-2", "thread 13 RPC-Processor-3"}},
		{Key: "gc", Items: []string{"thread 9 gc", "thread 10 gc"}},
	}, got.Categories[0].Groups, "one group per family, largest first, items by thread id")
	assert.Equal(t, map[string]int{"threads": 5, "threads/RPC-Processor-*": 3, "threads/gc": 2}, got.Counts())
	assert.Equal(t, "RPC-Processor-2", r.Categories[0].Groups[0].Key, "the report given is left as it was")
	assert.True(t, got.Leaked(), "the copy keeps the report's tolerances")
}
