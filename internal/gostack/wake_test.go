package gostack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFixtures are the dumps of gen's TestWaits; see testdata/README.md.
var waitFixtures = []struct {
	file   string
	proven bool // leak detection ran before the dump
}{
	{"waits-go1.25.txt", false},
	{"waits-go1.26.txt", false},
	{"waits-go1.26-goroutineleak.txt", true},
	{"waits-go1.27.txt", true},
}

func TestClassifyFixtures(t *testing.T) {
	type want struct {
		outlook Outlook
		rule    string
		within  time.Duration
	}
	unknownChan := want{Unknown, "channel-wait", 0}
	for _, c := range []struct {
		fn        string // the function of gen the goroutine waits in
		plain     want   // in a dump without leak detection
		proven    want   // in a dump taken after leak detection
		reasoning string
	}{
		{"waitSleep5s", want{OnTimer, "sleep", 5 * time.Second}, want{OnTimer, "sleep", 5 * time.Second},
			"time.Sleep(5s): its own timer wakes it; the argument is printed"},
		{"waitSleepHour", want{OnTimer, "sleep", time.Hour}, want{OnTimer, "sleep", time.Hour},
			"a long sleep still ends by itself; Within says how long at most"},
		{"TestWaits.func1.1", want{OnTimer, "sleep", 5 * time.Second}, want{OnTimer, "sleep", 5 * time.Second},
			"a durable sleep in a synctest bubble fires on the bubble's clock"},
		{"waitAfter", unknownChan, unknownChan,
			"a select with a time.After case prints as a plain select, and the timer keeps it from being proven"},
		{"waitRecvAfter", unknownChan, unknownChan, "<-time.After prints as a plain chan receive"},
		{"waitTimerC", unknownChan, unknownChan, "<-Timer.C: a pending timer keeps its channel reachable"},
		{"waitTicker", unknownChan, unknownChan, "a Ticker wakes it again and again: timer-driven, never proven"},
		{"waitDeadline", unknownChan, unknownChan, "ctx.Done() with a deadline: the deadline's timer holds the context"},
		{"waitGlobal", unknownChan, unknownChan, "a channel a package variable holds may still be sent on"},
		{"waitUnreachable", unknownChan, want{Forever, "leaked", 0},
			"a channel nothing references: only leak detection can tell it from the timer cases"},
		{"waitMutex", want{Unknown, "sync-wait", 0}, want{Forever, "leaked", 0},
			"a mutex whose holder dropped it: proven when detection ran"},
		{"waitSelectNoCases", want{Forever, "select-no-cases", 0}, want{Forever, "leaked", 0},
			"select {} never returns (and detection proves it too)"},
		{"waitNilRecv", want{Forever, "nil-channel", 0}, want{Forever, "leaked", 0}, "a receive on a nil channel"},
		{"waitNilSend", want{Forever, "nil-channel", 0}, want{Forever, "leaked", 0}, "a send on a nil channel"},
		{"waitIODeadline", want{Unknown, "io-wait", 0}, want{Unknown, "io-wait", 0},
			"an accept with a deadline: the deadline is a timer the dump does not show"},
		{"TestWaits.func1.3", want{Unknown, "not-parked", 0}, want{Unknown, "not-parked", 0},
			"the goroutine writing the dump is running"},
	} {
		for _, fx := range waitFixtures {
			t.Run(c.fn+"/"+fx.file, func(t *testing.T) {
				var found []Goroutine
				for _, g := range readFixture(t, fx.file) {
					if g.HasFunction(genPkg + c.fn) {
						found = append(found, g)
					}
				}
				require.Len(t, found, 1, "goroutines in %s", c.fn)
				w := c.plain
				if fx.proven {
					w = c.proven
				}
				got := Classify(found[0])
				assert.Equal(t, Wake{Outlook: w.outlook, Rule: w.rule, Within: w.within}, got, c.reasoning)
				assert.Equal(t, w.outlook == OnTimer, MayEndOnTimer(found[0]))
			})
		}
	}
}

// Every goroutine of every fixture gets a named rule.
func TestClassifyNamesEveryGoroutine(t *testing.T) {
	for _, fx := range waitFixtures {
		for _, g := range readFixture(t, fx.file) {
			w := Classify(g)
			assert.NotEmpty(t, w.Rule, "%s: %s", fx.file, g.Summary())
			if g.State == "synctest.Run" {
				assert.Equal(t, Wake{Outlook: Unknown, Rule: "other"}, w, "a state no rule names")
			}
		}
	}
}

func TestClassifyRules(t *testing.T) {
	sleeping := func(arg string, waited time.Duration) Goroutine {
		return Goroutine{State: "sleep", Wait: waited,
			Raw: "goroutine 7 [sleep]:\ntime.Sleep(" + arg + ")\n\t/go/src/runtime/time.go:363 +0x165\nmain.f()\n\t/src/f.go:3 +0x1d"}
	}
	for _, c := range []struct {
		name string
		g    Goroutine
		want Wake
	}{
		{"the leaked mark beats the state", Goroutine{State: "sync.Cond.Wait", Leaked: true}, Wake{Forever, "leaked", 0}},
		{"leaked beats sleep, which detection never proves anyway", Goroutine{State: "sleep", Leaked: true}, Wake{Forever, "leaked", 0}},
		{"select {}", Goroutine{State: "select (no cases)"}, Wake{Forever, "select-no-cases", 0}},
		{"sleep with its duration", sleeping("0x12a05f200", 0), Wake{OnTimer, "sleep", 5 * time.Second}},
		{"minutes waited shorten the bound", sleeping("0x34630b8a000", 3*time.Minute), Wake{OnTimer, "sleep", 57 * time.Minute}},
		{"an overdue sleep is about to end", sleeping("0x3b9aca00", time.Minute), Wake{OnTimer, "sleep", time.Nanosecond}},
		{"a possibly stale argument is not trusted", sleeping("0x12a05f200?", 0), Wake{OnTimer, "sleep", 0}},
		{"an inlined call prints no argument", sleeping("...", 0), Wake{OnTimer, "sleep", 0}},
		{"a sleep from a census (no Raw)", Goroutine{State: "sleep"}, Wake{OnTimer, "sleep", 0}},
		{"durable channel waits are channel waits", Goroutine{State: "select", Durable: true, Bubble: 1}, Wake{Unknown, "channel-wait", 0}},
		{"semacquire", Goroutine{State: "semacquire"}, Wake{Unknown, "sync-wait", 0}},
		{"syscall", Goroutine{State: "syscall"}, Wake{Unknown, "not-parked", 0}},
		{"runnable", Goroutine{State: "runnable"}, Wake{Unknown, "not-parked", 0}},
		{"a state from a newer runtime", Goroutine{State: "frobnicating"}, Wake{Unknown, "other", 0}},
		{"no state at all (Group.Goroutine)", Goroutine{}, Wake{Unknown, "other", 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Classify(c.g))
		})
	}
}

func TestOutlookString(t *testing.T) {
	for o, want := range map[Outlook]string{
		Unknown:    "unknown",
		Forever:    "forever",
		OnTimer:    "on a timer",
		Outlook(7): "Outlook(7)", // a value no constant names keeps its number
	} {
		assert.Equal(t, want, o.String())
	}
}

//go:noinline
func sleepBriefly(d time.Duration) { time.Sleep(d) }

// A live sleeper reads as the fixtures do: on a timer, within its duration.
func TestClassifyLive(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		sleepBriefly(300 * time.Millisecond)
	}()
	var w Wake
	waitFor(t, func() bool {
		all, err := All()
		require.NoError(t, err)
		for _, g := range all {
			if g.HasFunction(pkgPrefix+"sleepBriefly") && g.State == "sleep" {
				w = Classify(g)
				return true
			}
		}
		return false
	})
	assert.Equal(t, OnTimer, w.Outlook)
	assert.Equal(t, "sleep", w.Rule)
	assert.Equal(t, 300*time.Millisecond, w.Within, "time.Sleep's argument, as printed")
	<-done
}
