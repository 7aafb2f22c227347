package gen

import (
	"context"
	"flag"
	"io"
	"net"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var waitsOut = flag.String("waitsout", "", "write the dump of TestWaits (timer-bounded and endless waits) to this file")

// One function per wait, so the fixture's goroutines are found by function.

var globalCh = make(chan int)

func waitSleep5s()   { time.Sleep(5 * time.Second) }
func waitSleepHour() { time.Sleep(time.Hour) }
func waitAfter(ch chan int) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}
func waitRecvAfter()                   { <-time.After(5 * time.Second) }
func waitTimerC(t *time.Timer)         { <-t.C }
func waitTicker(t *time.Ticker)        { <-t.C }
func waitDeadline(ctx context.Context) { <-ctx.Done() }
func waitSelectNoCases()               { select {} }
func waitNilRecv()                     { var ch chan int; <-ch }
func waitNilSend()                     { var ch chan int; ch <- 1 }
func waitUnreachable(ch chan int)      { <-ch }
func waitGlobal()                      { <-globalCh }

type box struct {
	mu sync.Mutex
	p  *int
}

func waitMutex(b *box) { b.mu.Lock() }
func waitIODeadline(ln *net.TCPListener) {
	_ = ln.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = ln.Accept()
}

// TestWaits parks goroutines on timers (time.Sleep, time.After, a Timer, a
// Ticker, a context deadline, an accept with a deadline) and in waits that
// never end (select {}, nil channels, an unreachable channel, a dropped
// mutex), plus a channel a global holds; inside a synctest bubble, a durable
// sleep and a durable receive. Where the runtime has the goroutineleak
// profile it runs leak detection first, so the dump marks "(leaked)" what
// the GC proved.
func TestWaits(t *testing.T) {
	if *waitsOut == "" {
		t.Fatal("usage: go test -run TestWaits -args -waitsout FILE")
	}
	go waitSleep5s()
	go waitSleepHour()
	go waitAfter(make(chan int))
	go waitRecvAfter()
	go waitTimerC(time.NewTimer(5 * time.Second))
	go waitTicker(time.NewTicker(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go waitDeadline(ctx)
	go waitSelectNoCases()
	go waitNilRecv()
	go waitNilSend()
	go waitUnreachable(make(chan int))
	go waitGlobal()
	b := new(box)
	b.mu.Lock()
	go waitMutex(b)
	b = nil
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go waitIODeadline(ln)

	time.Sleep(100 * time.Millisecond) // let every goroutine above reach its blocking point

	synctest.Test(t, func(t *testing.T) {
		bubble := make(chan int)
		go func() { time.Sleep(5 * time.Second) }() // fake time: durable
		go func() { <-bubble }()                    // durable
		synctest.Wait()
		if p := pprof.Lookup("goroutineleak"); p != nil {
			if err := p.WriteTo(io.Discard, 1); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, *waitsOut, func(w io.Writer) error {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			_, err := w.Write(buf[:n])
			return err
		})
		close(bubble)
		time.Sleep(6 * time.Second) // fake time: lets the bubble's sleeper finish
	})
}
