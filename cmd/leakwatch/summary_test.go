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
// starts and then leaks a CLOSE_WAIT socket every sample; its runtime
// threads ("server") stay level, and its RPC pool of numbered threads
// does too.
func fixedResult(t *testing.T, slope, growth string) *result {
	t.Helper()
	s := &series.Series{Target: "pid 4242 (server)"}
	for i := range 51 {
		cw := max(0, i-10)
		s.Add(i, t0.Add(time.Duration(i)*100*time.Millisecond), familyCounts(series.Counts{
			"fds": min(3+i, 8) + 2, "fds/file": min(3+i, 8), "fds/eventpoll": 1, "fds/eventfd": 1,
			"sockets": 1 + cw, "sockets/tcp LISTEN": 1, "sockets/tcp CLOSE_WAIT": cw,
			"threads": 6, "threads/server": 3, "threads/gc": 1, "threads/RPC-Processor-1": 1, "threads/RPC-Processor-2": 1,
		}))
	}
	j := judging{ownThreads: map[string]bool{"threads/server": true}}
	if slope != "" {
		require.NoError(t, j.maxSlope.Set(slope))
	}
	if growth != "" {
		require.NoError(t, j.maxGrowth.Set(growth))
	}
	return &result{
		series: s, interval: 100 * time.Millisecond, warmup: 0.2,
		ended: endDuration, endedText: "--duration 5s ended", warmupNote: "warm-up 20% (10 samples)", warmupUntil: "share",
		elapsed: 5 * time.Second, judged: true,
		stats:      s.Summary(0.2),
		thresholds: limitsNote(&j.maxSlope, &j.maxGrowth),
		verdict:    j.judge(s, 0.2, everyKey),
		report: &leakcheck.Report{Target: "pid 4242", Categories: []leakcheck.Category{{
			Resource: leakcheck.Sockets,
			Groups: []leakcheck.Group{{Key: "tcp CLOSE_WAIT", Items: []leakcheck.Item{
				{Resource: leakcheck.Sockets, ID: 9, Text: "tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT"},
				{Resource: leakcheck.Sockets, ID: 10, Text: "tcp 127.0.0.1:51236 → 127.0.0.1:25555 CLOSE_WAIT"},
			}}},
		}}},
		base:    look{sample: 10, at: time.Second},
		baseWhy: "the first full snapshot after the warm-up of 10 samples",
		lastAt:  5 * time.Second,
		fate:    &fate{PID: 4242, Command: "server", Stopped: true, Signal: "SIGTERM", Text: "server (pid 4242) stopped by leakwatch: signal SIGTERM (terminated)"},
		status:  exitGrowth, statusWhy: "growth over its threshold",
	}
}

func TestSummaryGolden(t *testing.T) {
	r := fixedResult(t, "0.5", "threads=0,fds/file=0")
	var b bytes.Buffer
	require.NoError(t, r.write(&b))
	golden(t, "summary.txt", b.String())

	r = fixedResult(t, "", "")
	b.Reset()
	require.NoError(t, r.write(&b))
	golden(t, "summary-default.txt", b.String())
}

func TestSummaryThresholds(t *testing.T) {
	for _, tc := range []struct {
		slope, growth string
		want          []string
		why           string
	}{
		{"", "", []string{
			"exceeded: sockets grew 1 per sample (10 per second), more than the default 0.05 per sample (as leakcheck.Soak; set --max-slope, or --report-only)",
			"exceeded: sockets/tcp CLOSE_WAIT grew 1 per sample (10 per second), more than the default 0.05 per sample (as leakcheck.Soak; set --max-slope, or --report-only)",
		}, "no thresholds: the default slope per sample judges every category"},
		{"100", "100", []string{"ok: nothing exceeded --max-slope 100, --max-growth 100"}, "generous thresholds pass, and cover every category"},
		{"sockets=0.5", "", []string{
			"exceeded: sockets grew 10 per second (1 per sample), more than --max-slope 0.5",
			"exceeded: sockets/tcp CLOSE_WAIT grew 10 per second (1 per sample), more than --max-slope 0.5",
		}, "a resource's threshold covers its categories"},
		{"sockets=100", "", []string{"ok: nothing exceeded --max-slope sockets=100, nor the default slope for the other categories, 0.05 per sample after the warm-up"},
			"the categories no threshold covers keep the default, and the pool that filled during the warm-up passes it"},
		{"", "fds=0,sockets=100", []string{"ok: nothing exceeded --max-growth fds=0,sockets=100, nor the default slope for the other categories, 0.05 per sample after the warm-up"},
			"the pool filled during the warm-up: no growth after it"},
		{"", "sockets=100,sockets/tcp LISTEN=0,threads/nothing=0", []string{"ok: nothing exceeded --max-growth sockets=100,sockets/tcp LISTEN=0,threads/nothing=0, nor the default slope for the other categories, 0.05 per sample after the warm-up"},
			"a category that never appears is judged as zero"},
		{"0.5,sockets/tcp CLOSE_WAIT=20", "", []string{
			"exceeded: sockets grew 10 per second (1 per sample), more than --max-slope 0.5",
		}, "a category's own threshold wins over the global one"},
	} {
		r := fixedResult(t, tc.slope, tc.growth)
		assert.Equal(t, tc.want, r.verdict.lines(r.thresholds), tc.why)
	}
}

func TestJudgeRuntimeThreads(t *testing.T) {
	s := &series.Series{}
	for i := range 20 {
		s.Add(i, t0.Add(time.Duration(i)*time.Second), series.Counts{"fds": 3, "sockets": 0, "threads": 2 + i, "threads/server": 1 + i, "threads/gc": 1})
	}
	j := judging{ownThreads: map[string]bool{"threads/server": true}}
	v := j.judge(s, 0.2, everyKey)
	assert.Empty(t, v.exceeded, "threads that never named themselves are the runtime's: not judged by default")
	require.Len(t, v.notJudged, 2, "but they are shown as not judged")
	assert.Equal(t, []string{
		"ok: nothing exceeded the default slope, 0.05 per sample after the warm-up",
		"not judged: threads grew 1 per sample: threads that never named themselves (the runtime's own, as leakcheck counts them); name them in --max-slope or --max-growth to judge them",
		"not judged: threads/server grew 1 per sample: threads that never named themselves (the runtime's own, as leakcheck counts them); name them in --max-slope or --max-growth to judge them",
	}, v.lines(""))

	require.NoError(t, j.maxSlope.Set("0.5"))
	assert.Empty(t, j.judge(s, 0.2, everyKey).exceeded, "a threshold for every category does not name them")
	require.NoError(t, j.maxSlope.Set("threads/server=0.5"))
	v = j.judge(s, 0.2, everyKey)
	require.Len(t, v.exceeded, 1, "a threshold that names them judges them")
	assert.Equal(t, "threads/server", v.exceeded[0].Category)

	j = judging{ownThreads: map[string]bool{}, reportOnly: true}
	assert.Equal(t, []string{"--report-only: growth is shown, not judged"}, j.judge(s, 0.2, everyKey).lines(""))
}

func TestSummaryJSON(t *testing.T) {
	r := fixedResult(t, "0.5", "")
	var b bytes.Buffer
	require.NoError(t, r.writeJSON(&b))
	var j struct {
		Schema   string            `json:"schema"`
		Series   *series.Series    `json:"series"`
		Summary  []series.Stats    `json:"summary"`
		Exceeded []json.RawMessage `json:"exceeded"`
		Diff     *jsonDiff         `json:"diff"`
		Target   *fate             `json:"target_exit"`
		Exit     int               `json:"exit_status"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &j))
	assert.Equal(t, "leakwatch.watch/v3", j.Schema)
	assert.Equal(t, 51, j.Series.Len(), "the series decodes with its own schema")
	assert.Equal(t, r.stats, j.Summary)
	require.Len(t, j.Exceeded, 2)
	assert.JSONEq(t, `{"category":"sockets","measure":"slope","value":10,"limit":0.5,"unit":"per second","from":"--max-slope"}`, string(j.Exceeded[0]),
		"fields, not sentences")
	assert.Equal(t, map[string]int{"sockets": 2, "sockets/tcp CLOSE_WAIT": 2}, j.Diff.Counts)
	assert.Equal(t, 1.0, j.Diff.FromSeconds)
	assert.Equal(t, 10, j.Diff.FromSample)
	assert.Equal(t, "warm-up", j.Diff.Base)
	assert.Equal(t, "SIGTERM", j.Target.Signal)
	assert.Equal(t, exitGrowth, j.Exit)
	golden(t, "watch.json", b.String())
}

func TestFamilyCountsAndReport(t *testing.T) {
	assert.Equal(t, series.Counts{"threads": 4, "threads/RPC-Processor-*": 3, "threads/main": 1, "fds/file": 2},
		familyCounts(series.Counts{"threads": 4, "threads/RPC-Processor-1": 1, "threads/RPC-Processor-2": 1, "threads/RPC-Processor-12": 1, "threads/main": 1, "fds/file": 2}),
		"numbered thread names add up under their family; other keys are kept")

	r := &leakcheck.Report{Target: "pid 7", Categories: []leakcheck.Category{{Resource: leakcheck.Threads, Groups: []leakcheck.Group{
		{Key: "RPC-Processor-2", Items: []leakcheck.Item{th(12, "RPC-Processor-2")}},
		{Key: "gc", Items: []leakcheck.Item{th(9, "gc"), th(10, "gc")}},
		{Key: "RPC-Processor-1", Items: []leakcheck.Item{th(11, "RPC-Processor-1")}},
		{Key: "RPC-Processor-3", Items: []leakcheck.Item{th(13, "RPC-Processor-3")}},
	}}}}
	got := familyReport(r)
	assert.Equal(t, []leakcheck.Group{
		{Key: "RPC-Processor-*", Items: []leakcheck.Item{th(11, "RPC-Processor-1"), th(12, "RPC-Processor-2"), th(13, "RPC-Processor-3")}},
		{Key: "gc", Items: []leakcheck.Item{th(9, "gc"), th(10, "gc")}},
	}, got.Categories[0].Groups, "one group per family, largest first, items by thread id")
	assert.Equal(t, map[string]int{"threads": 5, "threads/RPC-Processor-*": 3, "threads/gc": 2}, got.Counts())
	assert.Equal(t, "RPC-Processor-2", r.Categories[0].Groups[0].Key, "the report given is left as it was")
	assert.True(t, got.Leaked(), "the copy keeps the report's tolerances")
}

func TestBaseKeeper(t *testing.T) {
	for _, n := range []int{1, 2, 10, 40, 41, 100, 1000, 10000} {
		var k baseKeeper
		s := &series.Series{}
		for i := range n {
			s.Add(i, t0, series.Counts{})
			k.add(look{sample: i}, s.WarmupSamples(0.2))
			require.LessOrEqual(t, len(k.kept), maxBases, "n=%d i=%d: bounded", n, i)
		}
		end := s.WarmupSamples(0.2)
		b, ok := k.base(end)
		require.True(t, ok, "n=%d: a base", n)
		assert.GreaterOrEqual(t, b.sample, end, "n=%d: never inside the warm-up", n)
		assert.LessOrEqual(t, b.sample-end, (n-end)/16, "n=%d: within a sixteenth of the samples after the warm-up", n)
		if n <= 40 {
			assert.Equal(t, end, b.sample, "n=%d: exact in a short watch", n)
		}
	}
}

func TestProgressLine(t *testing.T) {
	s := fixedResult(t, "", "").series
	assert.Equal(t, "5.0s #50  fds 10 (+5)  sockets 41 (+40)  threads 6 (+0)  processes 0 (+0)  grows most: sockets/tcp CLOSE_WAIT +40",
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
		why           string
	}{
		{in: "0.5", want: "0.5"},
		{in: "sockets=0.1,fds/eventfd=0", want: "fds/eventfd=0,sockets=0.1"},
		{in: "1, threads=0", want: "1,threads=0"},
		{in: "sockets/tcp CLOSE_WAIT=0", want: "sockets/tcp CLOSE_WAIT=0"},
		{in: "socks=1", err: `category "socks": want fds, sockets, threads or processes`},
		{in: "fds/=1", err: "name the category after the slash"},
		{in: "sockets=x", err: `"sockets=x": want a number ≥ 0`},
		{in: "-1", err: "want a number ≥ 0"},
		{in: "NaN", err: "want a number ≥ 0"},
		{in: "1,,2", err: "empty item"},
		{in: "goroutines=1", err: "want fds, sockets, threads or processes"},
		{in: "threads/RPC-Processor-7=0", want: "threads/RPC-Processor-*=0"},
		{in: "processes=0", want: "processes=0"},
		{in: "processes/worker-3=0.5", want: "processes/worker-*=0.5", why: "children count by family, as threads do"},
		{in: "processes/java -Xmx=1g=0", want: "processes/java -Xmx=*g=0", why: "the last = ends a key: a command line may hold one (and its number is a counter)"},
	} {
		var l limits
		err := l.Set(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, l.String(), "%s: %s", tc.in, tc.why)
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
		{[]string{"--ready-after=1s", "--ready-port=8080", "-p", "1"}, "give --ready-after or --ready-port, not both"},
		{[]string{"--ready-after=1s", "--warmup=0.3", "-p", "1"}, "give --warmup or --ready-after/--ready-port, not both"},
		{[]string{"--ready-after=2s", "--duration=1s", "-p", "1"}, "--ready-after 2s is not before --duration 1s"},
		{[]string{"--ready-port=0", "-p", "1"}, "--ready-port 0: want a TCP port"},
		{[]string{"--ready-port=70000", "-p", "1"}, "--ready-port 70000"},
		{[]string{"--report-only", "--max-slope=1", "-p", "1"}, "--report-only judges nothing"},
		{[]string{"--ignore-exit", "-p", "1"}, "--ignore-exit is for a command"},
		{[]string{"snapshot", "--tree", "-p", "1"}, "snapshot --tree: a snapshot file is of one process"},
		{[]string{"diff", "--tree", "a.json", "b.json"}, "diff --tree: snapshot files are of one process"},
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

func th(tid uint64, name string) leakcheck.Item {
	return leakcheck.Item{Resource: leakcheck.Threads, ID: tid, Text: name}
}
