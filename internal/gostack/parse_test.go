package gostack

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const genPkg = "github.com/leakcheck/go/internal/gostack/testdata/gen."

// fixture describes what a captured dump holds; see testdata/README.md.
type fixture struct {
	file          string
	labels        bool // the labeled goroutine shows its pprof labels
	minutes       bool // generated with -wait 61s: long-parked goroutines print "1 minutes"
	leakProfile   bool // the goroutineleak profile: only some goroutines, several "(leaked)"
	ancestors     bool // GODEBUG=tracebackancestors=2
	wantGoroutine int
}

var fixtures = []fixture{
	{file: "go1.25.txt", minutes: true, wantGoroutine: 29},
	{file: "go1.26.txt", minutes: true, wantGoroutine: 29},
	{file: "go1.26-tracebacklabels.txt", labels: true, minutes: true, wantGoroutine: 29},
	{file: "go1.27.txt", labels: true, minutes: true, wantGoroutine: 29},
	{file: "go1.26-tracebackancestors.txt", ancestors: true, wantGoroutine: 29},
	{file: "go1.26-goroutineleak.txt", leakProfile: true, wantGoroutine: 24},
}

func readFixture(t testing.TB, name string) []Goroutine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	gs, err := ParseBytes(b)
	require.NoError(t, err)
	return gs
}

// byTop returns the goroutines whose innermost frame is fn.
func byTop(gs []Goroutine, fn string) []Goroutine {
	var out []Goroutine
	for _, g := range gs {
		if g.TopFunction() == fn {
			out = append(out, g)
		}
	}
	return out
}

func one(t *testing.T, gs []Goroutine, fn string) Goroutine {
	t.Helper()
	found := byTop(gs, fn)
	require.Len(t, found, 1, "goroutines with %s on top", fn)
	return found[0]
}

func byID(gs []Goroutine, id uint64) (Goroutine, bool) {
	for _, g := range gs {
		if g.ID == id {
			return g, true
		}
	}
	return Goroutine{}, false
}

func TestParseFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			gs := readFixture(t, fx.file)
			require.Equal(t, fx.wantGoroutine, len(gs), "goroutines")

			ids := map[uint64]bool{}
			for _, g := range gs {
				assert.False(t, ids[g.ID], "goroutine %d twice", g.ID)
				ids[g.ID] = true
				assert.NotEmpty(t, g.State, "goroutine %d", g.ID)
				assert.True(t, strings.HasPrefix(g.Raw, "goroutine "), "raw of %d: %q", g.ID, g.Raw)
				assert.Empty(t, g.Extra, "goroutine %d: annotations this parser does not know", g.ID)
			}

			// The main goroutine: testing.(*T).Run waiting for the test, no creator.
			main := one(t, gs, "testing.(*T).Run")
			assert.Equal(t, uint64(1), main.ID)
			assert.Equal(t, "chan receive", main.State)
			assert.Empty(t, main.CreatedBy())
			assert.True(t, main.HasFunction("testing.(*M).Run"))
			assert.True(t, main.HasFunction("main.main"))

			if fx.leakProfile {
				// Only goroutines the leak detector could prove stuck are "(leaked)".
				sel := one(t, gs, genPkg+"blockSelect")
				assert.True(t, sel.Leaked)
				assert.Equal(t, "select", sel.State)
				assert.False(t, one(t, gs, "time.Sleep").Leaked, "a sleeper will wake up")
				assert.False(t, main.Leaked)
				return
			}

			// The goroutine that took the dump runs inside the synctest bubble.
			running := one(t, gs, genPkg+"TestDump.func7.3")
			assert.Equal(t, "running", running.State)
			assert.NotZero(t, running.Bubble)

			// Creators: spawner's child names spawner and its goroutine.
			spawner := one(t, gs, genPkg+"spawner")
			var child Goroutine
			for _, g := range byTop(gs, genPkg+"blockRecv") {
				if g.CreatedBy() == genPkg+"spawner" {
					child = g
				}
			}
			require.NotZero(t, child.ID, "spawner's child")
			assert.Equal(t, spawner.ID, child.CreatorID)
			assert.True(t, child.Creator.CreatedBy)
			assert.Equal(t, "gen_test.go", filepath.Base(child.Creator.File))
			assert.Positive(t, child.Creator.Line)
			assert.False(t, child.HasFunction(genPkg+"spawner"), "the creator frame is not part of the stack")
			testDump := one(t, gs, "internal/synctest.Run")
			assert.Equal(t, testDump.ID, spawner.CreatorID)
			assert.Equal(t, "synctest.Run", testDump.State)
			assert.True(t, testDump.Durable)

			states := []struct{ top, state string }{
				{genPkg + "blockSend", "chan send"},
				{genPkg + "blockSelect", "select"},
				{genPkg + "selectForever", "select (no cases)"},
				{"time.Sleep", "sleep"},
				{"internal/poll.runtime_pollWait", "IO wait"},
				{"sync.runtime_SemacquireWaitGroup", "sync.WaitGroup.Wait"},
				{"sync.runtime_notifyListWait", "sync.Cond.Wait"},
				{genPkg + "park[...]", "chan receive"},
				{genPkg + "(*server).loop", "chan receive"},
				{"testing.(*T).Parallel", "chan receive"},
				{"os/signal.signal_recv", "syscall"},
			}
			traceReader := "runtime.ReadTrace"
			if fx.file == "go1.25.txt" {
				traceReader = "runtime/trace.runtime_readTrace"
			}
			states = append(states, struct{ top, state string }{traceReader, "trace reader (blocked)"})
			for _, s := range states {
				found := byTop(gs, s.top)
				require.NotEmpty(t, found, "no goroutine with %s on top", s.top)
				assert.Equal(t, s.state, found[0].State, s.top)
			}
			// sync.Mutex.Lock outside and inside the bubble: only the inner one
			// has a bubble, and neither is durable.
			var mutexes int
			for _, g := range gs {
				if g.State == "sync.Mutex.Lock" {
					mutexes++
					assert.False(t, g.Durable)
					assert.True(t, g.HasFunction("sync.(*Mutex).Lock"))
				}
			}
			assert.Equal(t, 2, mutexes)

			accept := byTop(gs, "internal/poll.runtime_pollWait")[0]
			assert.True(t, accept.HasFunction("net.(*TCPListener).Accept"))
			assert.Equal(t, "internal/poll.runtime_pollWait", accept.Frames[0].Func)
			assert.Equal(t, "netpoll.go", filepath.Base(accept.Frames[0].File))

			locked := one(t, gs, genPkg+"lockedWaiter")
			assert.True(t, locked.LockedToThread)
			assert.Zero(t, locked.Bubble)

			// Inside the bubble: durable channel receive and sleep.
			var durable int
			for _, g := range gs {
				if g.Bubble != 0 && g.Durable && (g.State == "chan receive" || g.State == "sleep") {
					durable++
					assert.Equal(t, running.Bubble, g.Bubble)
				}
			}
			assert.GreaterOrEqual(t, durable, 3, "bubble root, receiver and sleeper")

			// 120-deep recursion: the runtime prints 50 + 50 frames and elides the rest.
			deep := one(t, gs, genPkg+"recurse")
			assert.Positive(t, deep.Elided)
			assert.Len(t, deep.Frames, 100)
			assert.Equal(t, 21, deep.Elided, "121 recurse frames, 100 printed")
			assert.Contains(t, deep.String(), "    ...21 frames elided...\n")

			// Labels, only when the runtime printed them.
			var labeled []Goroutine
			for _, g := range gs {
				if g.Labels != nil {
					labeled = append(labeled, g)
				}
			}
			if fx.labels {
				require.Len(t, labeled, 1)
				assert.Equal(t, map[string]string{
					"leakcheck.test": "TestDump/sub-1",
					"odd key":        "a \"quoted\" value\twith tab and ✓",
				}, labeled[0].Labels)
				assert.Equal(t, genPkg+"blockRecv", labeled[0].TopFunction())
			} else {
				assert.Empty(t, labeled)
			}

			if fx.minutes {
				assert.Equal(t, time.Minute, one(t, gs, genPkg+"selectForever").Wait)
				assert.Equal(t, time.Minute, locked.Wait)
				assert.Zero(t, running.Wait)
			}

			if fx.ancestors {
				// The creators' stacks follow "[originating from goroutine N]:"; they
				// stay in Raw and are not frames of this goroutine.
				assert.Contains(t, child.Raw, "[originating from goroutine ")
				assert.Len(t, child.Frames, 1)
				assert.False(t, child.HasFunction(genPkg+"TestDump"))
			}
		})
	}
}

// Each goroutine's Raw text parses back to the same goroutine.
// A SIGQUIT crash dump: register dump before, "exit status 2" after, the
// GOTRACEBACK=all header form with gp=/m=/mp=, fp=/sp=/pc= after positions,
// runtime frames and goroutine 0 (a thread's g0).
func TestParseSIGQUIT(t *testing.T) {
	gs := readFixture(t, "go1.26-sigquit.txt")
	require.NotEmpty(t, gs)
	g0 := gs[0]
	assert.Equal(t, uint64(0), g0.ID)
	assert.Equal(t, "idle", g0.State)
	assert.Equal(t, "runtime.futex", g0.TopFunction())
	for _, g := range gs {
		for _, f := range g.Frames {
			assert.NotContains(t, f.File, " ", "goroutine %d: fp=/sp=/pc= leaked into the file name", g.ID)
			assert.Positive(t, f.Line)
		}
	}
	sleeper := byTop(gs, "runtime.gopark")
	assert.NotEmpty(t, sleeper)
	var testDump bool
	for _, g := range gs {
		if g.HasFunction(genPkg+"TestDump") && g.HasFunction("time.Sleep") {
			testDump = true
			assert.Equal(t, "sleep", g.State)
			assert.Equal(t, "testing.(*T).Run", g.CreatedBy())
		}
	}
	assert.True(t, testDump, "TestDump sleeping in -wait")
}

func TestParseRawRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		for _, g := range readFixture(t, fx.file) {
			again, err := ParseBytes([]byte(g.Raw))
			require.NoError(t, err, "%s goroutine %d", fx.file, g.ID)
			require.Len(t, again, 1)
			assert.Equal(t, g, again[0], "%s goroutine %d", fx.file, g.ID)
		}
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name, header string
		want         Goroutine
	}{
		{"plain", "goroutine 7 [chan receive]:", Goroutine{ID: 7, State: "chan receive"}},
		{"all annotations, Go 1.26 order",
			"goroutine 9 [chan receive (leaked) (scan), 3 minutes, locked to thread, synctest bubble 4]:",
			Goroutine{ID: 9, State: "chan receive", Leaked: true, Scan: true, Wait: 3 * time.Minute, LockedToThread: true, Bubble: 4}},
		{"durable suffix that is part of the wait reason",
			"goroutine 3 [sync.WaitGroup.Wait (durable), synctest bubble 1]:",
			Goroutine{ID: 3, State: "sync.WaitGroup.Wait", Durable: true, Bubble: 1}},
		{"parenthesised wait reason is kept", "goroutine 20 [GC worker (idle)]:",
			Goroutine{ID: 20, State: "GC worker (idle)"}},
		{"GOTRACEBACK=system adds gp, m and mp", "goroutine 1 gp=0xc000002380 m=0 mp=0x5a6b20 [running]:",
			Goroutine{ID: 1, State: "running"}},
		{"crash form with m=nil", "goroutine 17 gp=0xc000102a80 m=nil [GC worker (idle)]:",
			Goroutine{ID: 17, State: "GC worker (idle)"}},
		{"Go 1.26 tracebacklabels", `goroutine 5 [select, 2 minutes labels:{"a": "b", "c d": "e]f"}]:`,
			Goroutine{ID: 5, State: "select", Wait: 2 * time.Minute, Labels: map[string]string{"a": "b", "c d": "e]f"}}},
		{"Go 1.27 bare and quoted labels", `goroutine 5 [select] {k: v.1/x_y, "q k": "}, ]"}:`,
			Goroutine{ID: 5, State: "select", Labels: map[string]string{"k": "v.1/x_y", "q k": "}, ]"}}},
		{"Go 1.27 empty-string label", `goroutine 5 [select] {k: ""}:`,
			Goroutine{ID: 5, State: "select", Labels: map[string]string{"k": ""}}},
		{"unknown annotation is kept", "goroutine 8 [sleep, pinned by frobnicator]:",
			Goroutine{ID: 8, State: "sleep", Extra: []string{"pinned by frobnicator"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := ParseBytes([]byte(tt.header + "\nmain.f()\n\t/src/main.go:3 +0x1d\n"))
			require.NoError(t, err)
			require.Len(t, gs, 1)
			got := gs[0]
			assert.Equal(t, []Frame{{Func: "main.f", File: "/src/main.go", Line: 3}}, got.Frames)
			got.Frames, got.Raw = nil, ""
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseFrames(t *testing.T) {
	dump := "preamble the parser skips: panic: boom\n\n" +
		"goroutine 12 [running]:\n" +
		"panic({0x4a1b20?, 0xc000012345?})\n" +
		"\t/usr/local/go/src/runtime/panic.go:115 +0x1a\n" +
		"main.(*T).m(0xc000010000, {0x1, 0x2})\n" +
		"\tC:/Users/me/my dir/x.go:42 +0x25 fp=0xc00004ef78 sp=0xc00004ef50 pc=0x4a1b25\n" +
		"main.g[...](...)\n" +
		"\t/src/g.go:7\n" +
		"created by main.start in goroutine 3\n" +
		"\t/src/start.go:9 +0x3f\n" +
		"\n" +
		"goroutine 13 [chan receive]:\n" +
		"main.old()\n" +
		"\t/src/old.go:1 +0x1\n" +
		"created by main.legacy\n" +
		"\t/src/old.go:2 +0x2\n"
	gs, err := ParseBytes([]byte(dump))
	require.NoError(t, err)
	require.Len(t, gs, 2)
	g := gs[0]
	assert.Equal(t, []Frame{
		{Func: "panic", File: "/usr/local/go/src/runtime/panic.go", Line: 115},
		{Func: "main.(*T).m", File: "C:/Users/me/my dir/x.go", Line: 42},
		{Func: "main.g[...]", File: "/src/g.go", Line: 7},
	}, g.Frames)
	assert.Equal(t, Frame{Func: "main.start", File: "/src/start.go", Line: 9, CreatedBy: true}, g.Creator)
	assert.Equal(t, uint64(3), g.CreatorID)
	assert.Equal(t, "panic", g.TopFunction())
	assert.True(t, g.HasFunction("main.(*T).m"))
	assert.False(t, g.HasFunction("main.start"), "goleak's HasFunction leaves the creator out")
	assert.Equal(t, "main.start", g.CreatedBy())
	assert.Equal(t, dump[strings.Index(dump, "goroutine 12"):strings.Index(dump, "\n\ngoroutine 13")], g.Raw)
	// Pre-1.21 "created by" without a goroutine ID.
	assert.Equal(t, "main.legacy", gs[1].CreatedBy())
	assert.Zero(t, gs[1].CreatorID)
	assert.Equal(t, strings.TrimSuffix(dump[strings.Index(dump, "goroutine 13"):], "\n"), gs[1].Raw)
}

func TestParseElisionMarkers(t *testing.T) {
	var b strings.Builder
	b.WriteString("goroutine 4 [chan receive]:\n")
	for range 2 {
		b.WriteString("main.r(...)\n\t/src/r.go:5\n")
	}
	b.WriteString("...7 frames elided...\nmain.r(...)\n\t/src/r.go:5\n")
	gs, err := ParseBytes([]byte(b.String()))
	require.NoError(t, err)
	assert.Equal(t, 7, gs[0].Elided)
	assert.Len(t, gs[0].Frames, 3)
	assert.Contains(t, gs[0].String(), "/src/r.go:5\n    ...7 frames elided...\n    main.r\n")

	gs, err = ParseBytes([]byte("goroutine 4 [chan receive]:\nmain.r(...)\n\t/src/r.go:5\n...additional frames elided...\n"))
	require.NoError(t, err)
	assert.Equal(t, ElidedUnknown, gs[0].Elided)
	assert.True(t, strings.HasSuffix(gs[0].String(), "    ...additional frames elided...\n"))
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"no goroutine at all", "hello\nworld\n", "no goroutine header"},
		{"id is not a number", "goroutine x [running]:\n", "line 1: bad goroutine id"},
		{"no brackets", "goroutine 1 running:\n", "line 1: no [state] in header"},
		{"word before state", "goroutine 1 running [running]:\n", "line 1: unexpected word before [state]"},
		{"no colon", "goroutine 1 [running]\n", "line 1: header does not end in ':'"},
		{"empty state", "goroutine 1 []:\n", "line 1: empty state"},
		{"unterminated state", "goroutine 1 [running:\n", "line 1: unterminated [state]"},
		{"junk after state", "goroutine 1 [running] x:\n", "line 1: unexpected text after [state]"},
		{"bad minutes", "goroutine 1 [sleep, x minutes]:\n", `bad wait time "x minutes"`},
		{"bubble zero", "goroutine 1 [sleep, synctest bubble 0]:\n", "bad synctest bubble"},
		{"unterminated labels", "goroutine 1 [sleep] {k: v:\n", "line 1:"},
		{"unterminated quoted label", `goroutine 1 [sleep] {"k: v}:` + "\n", "unterminated quoted label"},
		{"duplicate label", "goroutine 1 [sleep] {k: v, k: w}:\n", `label "k" twice`},
		{"labels twice", `goroutine 1 [sleep labels:{"k": "v"}] {k: v}:` + "\n", "labels printed twice"},
		{"position without function", "goroutine 1 [running]:\n\t/src/x.go:1\n", "line 2: source position without a function"},
		{"not a frame", "goroutine 1 [running]:\nhello world\n", "line 2: not a frame line"},
		{"bad position", "goroutine 1 [running]:\nmain.f()\n\t/src/x.go\n", "line 3: no file:line"},
		{"frame after creator", "goroutine 1 [running]:\ncreated by main.g in goroutine 2\nmain.f()\n", "line 3: frame after the \"created by\" line"},
		{"two creators", "goroutine 1 [running]:\ncreated by main.g\ncreated by main.h\n", "second \"created by\""},
		{"bad creator id", "goroutine 1 [running]:\ncreated by main.g in goroutine x\n", "bad creator goroutine id"},
		{"bad elision", "goroutine 1 [running]:\n...-3 frames elided...\n", "bad elision marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := ParseBytes([]byte(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "gostack: "), err.Error())
			assert.Nil(t, gs)
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "  \n"} {
		gs, err := ParseBytes([]byte(in))
		assert.NoError(t, err, "%q", in)
		assert.Empty(t, gs)
	}
}

func TestParseReader(t *testing.T) {
	f, err := os.Open("testdata/go1.26.txt")
	require.NoError(t, err)
	defer f.Close()
	gs, err := Parse(f)
	require.NoError(t, err)
	assert.Equal(t, 29, len(gs))

	_, err = Parse(errReader{})
	assert.ErrorContains(t, err, "gostack: read dump: disk on fire")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestSummaryAndString(t *testing.T) {
	g := Goroutine{
		ID: 42, State: "chan receive", Wait: 3 * time.Minute, LockedToThread: true,
		Labels: map[string]string{"leakcheck.test": "TestX", "odd key": "v"},
		Frames: []Frame{
			{Func: "main.worker", File: "/src/w.go", Line: 12},
			{Func: "main.run", File: "/src/w.go", Line: 30},
		},
		Creator:   Frame{Func: "main.start", File: "/src/s.go", Line: 5, CreatedBy: true},
		CreatorID: 7,
	}
	assert.Equal(t,
		`goroutine 42 [chan receive, 3 minutes, locked to thread] {leakcheck.test: TestX, "odd key": v}: main.worker, created by main.start`,
		g.Summary())
	assert.Equal(t, `goroutine 42 [chan receive, 3 minutes, locked to thread] {leakcheck.test: TestX, "odd key": v}:
    main.worker
        /src/w.go:12
    main.run
        /src/w.go:30
    created by main.start in goroutine 7
        /src/s.go:5
`, g.String())
	assert.Equal(t, "goroutine 1 [running]: (no frames)", Goroutine{ID: 1, State: "running"}.Summary())
	assert.Equal(t, "main.f /src/f.go:3", Frame{Func: "main.f", File: "/src/f.go", Line: 3}.String())
	assert.Equal(t, "main.f", Frame{Func: "main.f"}.String())

	// A real goroutine with labels that need quoting, from the Go 1.27 dump.
	var found bool
	for _, g := range byTop(readFixture(t, "go1.27.txt"), genPkg+"blockRecv") {
		if g.Labels != nil {
			found = true
			assert.Equal(t, "goroutine "+strconv.FormatUint(g.ID, 10)+
				` [chan receive, 1 minutes] {leakcheck.test: "TestDump/sub-1", "odd key": "a \"quoted\" value\twith tab and ✓"}: `+
				genPkg+"blockRecv, created by "+g.CreatedBy(), g.Summary())
			assert.True(t, strings.HasPrefix(g.CreatedBy(), genPkg+"TestDump.func"), g.CreatedBy())
		}
	}
	assert.True(t, found)
}
