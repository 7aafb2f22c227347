package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/series"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), got, "the text of %s changed; if on purpose, rerun with -update and review the diff", path)
}

func items(r Resource, text string, ids ...uint64) []Item {
	var out []Item
	for _, id := range ids {
		out = append(out, Item{Resource: r, ID: id, Text: text})
	}
	return out
}

func seq(from, n uint64) []uint64 {
	var out []uint64
	for i := range n {
		out = append(out, from+i)
	}
	return out
}

// leakyReport has a category of every kind, a group long enough to be
// collapsed and one long enough to be cut, ignored and unchecked notes.
func leakyReport() *Report {
	var files []Item
	for i := range 14 {
		files = append(files, Item{Resource: FDs, ID: uint64(20 + i), Text: fmt.Sprintf("file /data/topic-%d/00000.log (deleted)", i)})
	}
	return &Report{
		Target: "this process",
		Waited: 3 * time.Second,
		Categories: []Category{
			{Resource: Goroutines, Groups: []Group{
				{Key: "main.(*Forward).loop [select], created by main.(*Proxy).Forward", Items: items(Goroutines, "[select] at /src/proxy.go:41", 12, 15, 19)},
				{Key: "main.worker [chan receive], created by main.start", Items: items(Goroutines, "[chan receive, 2 minutes] at /src/worker.go:9", 7)},
			}},
			{Resource: FDs, Groups: []Group{
				{Key: "eventfd", Items: items(FDs, "eventfd (count 0)", seq(40, 12)...)},
				{Key: "deleted file", Items: files},
				{Key: "eventpoll", Items: items(FDs, "eventpoll (watching 1 fd)", 39)},
			}},
			{Resource: Sockets, Groups: []Group{
				{Key: "tcp CLOSE_WAIT", Items: []Item{
					{Resource: Sockets, ID: 9, Text: "tcp 127.0.0.1:51234 → 127.0.0.1:25555 CLOSE_WAIT"},
					{Resource: Sockets, ID: 10, Text: "tcp 127.0.0.1:51236 → 127.0.0.1:25555 CLOSE_WAIT recv-q 1"},
				}},
			}},
			{Resource: Threads, Groups: []Group{{Key: "JRaft-RPC-Proc", Items: items(Threads, "JRaft-RPC-Proc", 4121, 4122)}}},
			{Resource: Processes, Groups: []Group{
				{Key: "sleep 20", Items: items(Processes, "sleep 20 (running, pidfd 15)", 4242)},
				{Key: "true", Items: items(Processes, "true (zombie: exited, never waited)", 4243)},
			}},
		},
		Ignored:   []Ignored{{"runtime fds", 2}, {`matching IgnoreTopFunction("main.keep")`, 1}},
		Unchecked: []string{"threads not checked: the verdict's look could not read them: too many open files"},
	}
}

func TestGoldenReport(t *testing.T) {
	golden(t, "report_leaky", leakyReport().String())

	clean := &Report{Target: "pid 4242", Ignored: []Ignored{{"unnamed runtime threads", 3}},
		Unchecked: []string{"fds, sockets, threads and processes not checked: " + parallelNote([]string{"TestB", "TestC/sub"})}}
	golden(t, "report_clean", clean.String())

	within := &Report{Target: "this process", Waited: 20 * time.Millisecond, tolerance: map[Resource]int{Sockets: 1},
		Categories: []Category{{Resource: Sockets, Groups: []Group{{Key: "tcp LISTEN", Items: items(Sockets, "tcp 127.0.0.1:8080 LISTEN", 7)}}}}}
	golden(t, "report_tolerated", within.String())
}

func TestGoldenCycleReport(t *testing.T) {
	created := &Report{Target: "this process", Categories: []Category{
		{Resource: Goroutines, Groups: []Group{{Key: "main.loop [syscall], created by main.newEventLoop", Items: items(Goroutines, "[syscall] at /src/loop.go:96", seq(100, 200)...)}}},
		{Resource: FDs, Groups: []Group{
			{Key: "eventfd", Items: items(FDs, "eventfd (count 0)", seq(1000, 5200)...)},
			{Key: "eventpoll", Items: items(FDs, "eventpoll (watching 26 fds)", seq(7000, 200)...)},
		}},
		{Resource: Sockets, Groups: []Group{{Key: "tcp ESTABLISHED", Items: items(Sockets, "tcp 127.0.0.1:1 → 127.0.0.1:2 ESTABLISHED", seq(8000, 200)...)}}},
	}}
	retained := &Report{Target: "this process", Waited: 3 * time.Second, Ignored: []Ignored{{"unnamed runtime threads", 101}}, Categories: []Category{
		{Resource: FDs, Groups: []Group{
			{Key: "eventfd", Items: items(FDs, "eventfd (count 0)", seq(1000, 5200)...)},
			{Key: "eventpoll", Items: items(FDs, "eventpoll (watching 26 fds)", seq(7000, 200)...)},
		}},
		{Resource: Processes, Groups: []Group{{Key: "sleep 20", Items: items(Processes, "sleep 20 (zombie: exited, never waited)", seq(5000, 200)...)}}},
	}}
	golden(t, "cycle_leaky", (&CycleReport{N: 200, Created: created, Retained: retained}).String())
	golden(t, "cycle_clean", (&CycleReport{N: 200, Created: created, Retained: &Report{Target: "this process"}}).String())
}

func TestGoldenSoakReport(t *testing.T) {
	s := &series.Series{Target: "this process"}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i <= 100; i += 10 {
		s.Add(i, t0.Add(time.Duration(i)*10*time.Millisecond), series.Counts{
			"goroutines": 5, "fds": 10 + i, "fds/file": 4, "fds/pipe": 6 + i, "sockets": 3 + i, "sockets/tcp CLOSE_WAIT": i, "sockets/tcp LISTEN": 3,
		})
	}
	var culprits []Item
	for i := range 8 {
		culprits = append(culprits, Item{Resource: Sockets, ID: uint64(9 + i), Text: fmt.Sprintf("tcp 127.0.0.1:%d → 127.0.0.1:25555 CLOSE_WAIT", 40000+i)})
	}
	rep := &SoakReport{Iterations: 100, Elapsed: time.Second, detail: s, warmup: 0.2,
		Growing: []Growth{
			{Key: "sockets/tcp CLOSE_WAIT", Start: 20, End: 100, Max: 100, PerIteration: 1, Culprits: culprits},
			{Key: "fds/pipe", Start: 26, End: 106, Max: 106, PerIteration: 1, Culprits: items(FDs, "pipe:[4242]", 30, 31)},
		}}
	golden(t, "soak_leaky", rep.String())
	golden(t, "soak_clean", (&SoakReport{Iterations: 100, Elapsed: time.Second, detail: &series.Series{}, warmup: 0.2}).String())
}
