package gostack

import (
	"strconv"
	"strings"
	"time"
)

// An Outlook says whether a parked goroutine can run again without help
// from anyone else, as far as its dump shows.
type Outlook int

const (
	// Unknown: the dump cannot tell. The goroutine may be woken by another
	// goroutine, by the network, by a timer the dump does not show (a select
	// on time.After, a Ticker, Timer.C, a context deadline, a connection
	// deadline all print as plain "select", "chan receive" or "IO wait"), or
	// never. Only waiting until a deadline tells it apart.
	Unknown Outlook = iota
	// Forever: nothing can ever wake it. Waiting longer is pointless.
	Forever
	// OnTimer: it waits for a timer alone, which fires by itself, so it runs
	// again within Wake.Within at the latest. Whether it then ends or parks
	// again (a polling loop) the dump does not say.
	OnTimer
)

// String returns "unknown", "forever" or "on a timer", and "Outlook(N)" for
// any other value.
func (o Outlook) String() string {
	switch o {
	case Unknown:
		return "unknown"
	case Forever:
		return "forever"
	case OnTimer:
		return "on a timer"
	}
	return "Outlook(" + strconv.Itoa(int(o)) + ")"
}

// A Wake is what Classify makes of one goroutine.
type Wake struct {
	Outlook Outlook
	// Rule names the rule that decided (see Classify), for a report to say
	// why; never empty.
	Rule string
	// Within is, for OnTimer, the longest the goroutine can still be parked:
	// the duration passed to time.Sleep less the whole minutes it has
	// waited (in a synctest bubble, in the bubble's fake time). It is zero
	// when the duration is not printed or not reliable ("0x…?"), and at
	// least 1ns when known (a sleep that is overdue is about to end).
	Within time.Duration
}

// Classify applies the first of these rules that matches g. Each is named
// (Wake.Rule) with its reason; they hold for the wait reasons of Go 1.25 to
// 1.27, which are the same set (runtime/runtime2.go, waitReasonStrings).
//
// Forever:
//   - "leaked": the runtime's leak detector proved that nothing reachable
//     can wake it (DetectLeaks; the dump must be taken after it).
//   - "select-no-cases": select {} never returns.
//   - "nil-channel": a send or receive on a nil channel ("chan send (nil
//     chan)", "chan receive (nil chan)") blocks forever.
//
// OnTimer:
//   - "sleep": state "sleep" is time.Sleep, parked on the goroutine's own
//     timer; no other goroutine can wake it and the timer always fires
//     (inside a synctest bubble it is durable and fires as the bubble's
//     clock advances). Within comes from time.Sleep's argument, which the
//     dump prints in nanoseconds: "time.Sleep(0x12a05f200)" is 5s.
//
// Unknown, each with the reason it cannot be decided:
//   - "channel-wait": "chan receive", "chan send", "select" (and their
//     "(durable)" forms): another goroutine may still send, receive or
//     close, and a timer's channel or a context deadline looks the same.
//     A dump taken after DetectLeaks that does not mark such a goroutine
//     leaked says the channel is reachable (from a timer, a global or a
//     live goroutine), not which.
//   - "sync-wait": "sync.Mutex.Lock", "sync.RWMutex.RLock",
//     "sync.RWMutex.Lock", "sync.WaitGroup.Wait", "sync.Cond.Wait",
//     "semacquire": it waits for another goroutine, which may itself be
//     waiting for a timer.
//   - "io-wait": "IO wait": data from the network or a deadline (a timer
//     the dump does not show).
//   - "not-parked": running, runnable, in a system call or preempted: it is
//     not waiting for anything.
//   - "other": any other state (the runtime's own waits, "synctest.Run",
//     and states a newer runtime may add).
//
// There is no timer goroutine to recognize: the "timer goroutine (idle)"
// state went away with the timer rewrite in Go 1.14, and a time.AfterFunc
// timer starts its goroutine only when it fires.
func Classify(g Goroutine) Wake {
	for _, r := range wakeRules {
		if r.match(g) {
			w := Wake{Outlook: r.outlook, Rule: r.name}
			if r.outlook == OnTimer {
				w.Within = sleepWithin(g)
			}
			return w
		}
	}
	return Wake{Outlook: Unknown, Rule: "other"}
}

// MayEndOnTimer reports whether g waits for a timer alone (Classify's
// OnTimer): it will run again by itself.
func MayEndOnTimer(g Goroutine) bool { return Classify(g).Outlook == OnTimer }

type wakeRule struct {
	name    string
	outlook Outlook
	match   func(Goroutine) bool
}

func stateIn(states ...string) func(Goroutine) bool {
	return func(g Goroutine) bool {
		for _, s := range states {
			if g.State == s {
				return true
			}
		}
		return false
	}
}

// wakeRules are Classify's rules in order; see its doc for their reasons.
var wakeRules = []wakeRule{
	{"leaked", Forever, func(g Goroutine) bool { return g.Leaked }},
	{"select-no-cases", Forever, stateIn("select (no cases)")},
	{"nil-channel", Forever, stateIn("chan receive (nil chan)", "chan send (nil chan)")},
	{"sleep", OnTimer, stateIn("sleep")},
	{"channel-wait", Unknown, stateIn("chan receive", "chan send", "select")},
	{"sync-wait", Unknown, stateIn("sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
		"sync.WaitGroup.Wait", "sync.Cond.Wait", "semacquire")},
	{"io-wait", Unknown, stateIn("IO wait")},
	{"not-parked", Unknown, func(g Goroutine) bool {
		return strings.HasPrefix(g.State, "syscall") ||
			stateIn("running", "runnable", "preempted", "idle", "copystack")(g)
	}},
}

// sleepWithin reads the duration of time.Sleep from its frame in g.Raw and
// subtracts the minutes waited; 0 when unknown.
func sleepWithin(g Goroutine) time.Duration {
	const frame = "\ntime.Sleep("
	i := strings.Index(g.Raw, frame)
	if i < 0 {
		return 0
	}
	arg := g.Raw[i+len(frame):]
	end := strings.IndexByte(arg, ')')
	if end < 0 {
		return 0
	}
	arg = arg[:end]
	// "0x12a05f200?" marks a value the traceback may have read from a stale
	// spill slot; "..." an inlined call. Neither is trusted.
	hex, ok := strings.CutPrefix(arg, "0x")
	if !ok {
		return 0
	}
	ns, err := strconv.ParseUint(hex, 16, 63)
	if err != nil {
		return 0
	}
	left := time.Duration(ns) - g.Wait
	if left <= 0 {
		return time.Nanosecond
	}
	return left
}
