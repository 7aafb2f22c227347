// Package gen writes the goroutine-dump fixtures of package gostack.
//
// It is a test (not a main package) because a synctest bubble needs a real
// *testing.T. It lives under testdata, so `go test ./...` never runs it; run it
// by path as described in ../README.md.
package gen

import (
	"context"
	"flag"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

var (
	out     = flag.String("out", "", "write the runtime.Stack(all) dump to this file")
	profOut = flag.String("profout", "", "also write the pprof goroutine profile (debug=1) to this file")
	leakOut = flag.String("leakout", "", "also write the goroutineleak profile (debug=2) to this file (needs GOEXPERIMENT=goroutineleakprofile)")
	wait    = flag.Duration("wait", 0, "how long the parked goroutines stay blocked before the dump (61s gives \"1 minutes\")")
)

type server struct{ quit chan struct{} }

func (s *server) loop() { <-s.quit }

func park[T any](ch chan T) { <-ch }

func recurse(n int, ch chan int) int {
	if n == 0 {
		return <-ch
	}
	return recurse(n-1, ch) + 1
}

func blockRecv(ch chan int) { <-ch }

func blockSend(ch chan int) { ch <- 1 }

func blockSelect(a, b chan int) {
	select {
	case <-a:
	case <-b:
	}
}

func selectForever() { select {} }

func sleeper() { time.Sleep(time.Hour) }

func acceptor(ln net.Listener) { _, _ = ln.Accept() }

func lockedWaiter(ch chan int) {
	runtime.LockOSThread()
	<-ch
}

func leaky() {
	ch := make(chan int) // unreachable once leaky's goroutine parks: a leak the GC can prove
	go func() { ch <- 1 }()
}

func spawner(ch chan int) {
	// A goroutine created by a goroutine other than the main one:
	// its header says "created by gen.spawner in goroutine N".
	go blockRecv(ch)
	<-ch
}

func TestDump(t *testing.T) {
	if *out == "" {
		t.Fatal("usage: go test -run TestDump -args -out FILE [-profout FILE] [-leakout FILE] [-wait 61s]")
	}
	never := make(chan int)
	var wg sync.WaitGroup

	go blockRecv(never)
	go blockSend(make(chan int)) // its own channel: a receiver of never would pair with it
	go blockSelect(never, never)
	go selectForever()
	go sleeper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go acceptor(ln)

	var mu sync.Mutex
	mu.Lock()
	go func() { mu.Lock() }()
	wg.Add(1)
	go func() { wg.Wait() }()
	cond := sync.NewCond(&sync.Mutex{})
	go func() {
		cond.L.Lock()
		cond.Wait()
	}()
	go lockedWaiter(never)
	go park(make(chan string))
	s := &server{quit: make(chan struct{})}
	go s.loop()
	go recurse(120, never)
	go spawner(never)

	pprof.Do(context.Background(), pprof.Labels(
		"leakcheck.test", "TestDump/sub-1",
		"odd key", "a \"quoted\" value\twith tab and ✓",
	), func(context.Context) {
		go blockRecv(never)
	})

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	if err := trace.Start(io.Discard); err != nil {
		t.Fatal(err)
	}
	defer trace.Stop()

	for range 3 {
		leaky()
	}

	// A parallel subtest stays parked in t.Parallel until TestDump returns.
	t.Run("parallel", func(t *testing.T) { t.Parallel() })

	time.Sleep(100 * time.Millisecond) // let every goroutine above reach its blocking point
	if *wait > 0 {
		// A GC's stack scan stamps parked goroutines with the start of the
		// previous GC (zero before the first), and headers print minutes
		// from that stamp: the second GC is the one that counts.
		runtime.GC()
		runtime.GC()
		time.Sleep(*wait)
	}

	if *leakOut != "" {
		p := pprof.Lookup("goroutineleak")
		if p == nil {
			t.Fatal("no goroutineleak profile: build with GOEXPERIMENT=goroutineleakprofile")
		}
		writeFile(t, *leakOut, func(w io.Writer) error { return p.WriteTo(w, 2) })
	}

	synctest.Test(t, func(t *testing.T) {
		bubble := make(chan int)
		go blockRecv(bubble) // durably blocked inside the bubble
		go func() { time.Sleep(time.Hour) }()
		synctest.Wait() // returns once the two above are durably blocked
		var bmu sync.Mutex
		bmu.Lock()
		// A mutex wait is not durable, so synctest.Wait would never return
		// with this one parked: start it afterwards and give it a moment.
		go func() { bmu.Lock(); bmu.Unlock() }()
		for range 100 {
			runtime.Gosched()
		}

		writeFile(t, *out, func(w io.Writer) error {
			buf := make([]byte, 1<<20)
			for {
				n := runtime.Stack(buf, true)
				if n < len(buf) {
					_, err := w.Write(buf[:n])
					return err
				}
				buf = make([]byte, 2*len(buf))
			}
		})
		if *profOut != "" {
			writeFile(t, *profOut, func(w io.Writer) error { return pprof.Lookup("goroutine").WriteTo(w, 1) })
		}
		close(bubble)
		bmu.Unlock()
		time.Sleep(2 * time.Hour) // fake time: lets the bubble's sleeper finish
	})
}

func writeFile(t *testing.T, name string, write func(io.Writer) error) {
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
