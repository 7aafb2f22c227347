// Command demo runs the buggy variant of each incident behind leakcheck
// (see ../README.md) under leakcheck and prints the report a person would
// see, one heading line per incident. It demonstrates: leaks are the point,
// so it exits 0 when every scenario ran, whatever they leaked.
//
//	go -C examples run ./demo
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/leakcheck/go/examples/grpcsubchannel"
	"github.com/leakcheck/go/examples/healthmonitor"
	"github.com/leakcheck/go/examples/raftrestart"
	"github.com/leakcheck/go/examples/segmentstore"
	"github.com/leakcheck/go/examples/tcpforward"
	"github.com/leakcheck/go/leakcheck"
)

func init() {
	// The main goroutine keeps the main thread, so the raft scenario's
	// locked processor goroutines never rename it.
	runtime.LockOSThread()
}

// settle is how long each check waits for teardown before it reports: the
// leaks here never settle, so every check waits this long.
const settle = 500 * time.Millisecond

// report is what a scenario found: a CycleReport, a Report or a SoakReport.
type report interface {
	String() string
	Leaked() bool
}

var scenarios = []struct {
	heading string
	run     func() (report, error)
}{
	{"API gateway: 100 TCP forwards created, used and deleted; Delete never releases the event loop", tcpForward},
	{"gRPC client: 10 wrappers dialled and closed; Close never closes the second connection to the backend", grpcSubchannel},
	{"log store: a topic of 3 partitions written and deleted; the follower replica's files are never closed", segmentStore},
	{"Raft node: restarted 10 times; Stop never shuts the RPC processor threads down", raftRestart},
	{"health monitor: 100 checks of a director that closes idle connections; a new client per check, never closed", healthMonitor},
}

func main() {
	if runtime.GOOS != "linux" {
		fmt.Printf("demo: the incidents leak descriptors, sockets and threads, which leakcheck reads from /proc and netlink: run it on Linux (this is %s)\n", runtime.GOOS)
		return
	}
	if err := run(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// run runs every scenario and prints its heading and report to w. An error
// is for a scenario that could not run; what it leaked is in its report.
func run(w io.Writer) error {
	var errs []error
	for i, s := range scenarios {
		fmt.Fprintf(w, "== %d/%d %s\n", i+1, len(scenarios), s.heading)
		rep, err := s.run()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.heading, err))
			continue
		}
		fmt.Fprintf(w, "%s\n\n", rep)
		if !rep.Leaked() {
			errs = append(errs, fmt.Errorf("%s: leakcheck did not catch it", s.heading))
		}
	}
	return errors.Join(errs...)
}

// tcpForward: each forward's event loop is an epoll instance with 26
// eventfds, as in the incident, and a goroutine.
func tcpForward() (report, error) {
	backend, stop, err := echoServer()
	if err != nil {
		return nil, err
	}
	defer stop()
	g := &tcpforward.Gateway{Workers: 26, Buggy: true}
	defer g.Close()
	var live []*tcpforward.Forward
	return leakcheck.FindCycle(100, func(n int) error {
		for range n {
			f, err := g.Forward(backend)
			if err != nil {
				return err
			}
			live = append(live, f)
			if err := roundTrip(f.Addr().String()); err != nil {
				return err
			}
		}
		return nil
	}, func() error {
		for _, f := range live {
			if err := g.Delete(f); err != nil {
				return err
			}
		}
		live = live[:0]
		return nil
	}, leakcheck.WithTimeout(settle))
}

// grpcSubchannel: the backend sends GOAWAY every 50ms; the leaked
// connections outlive it, because their streams never end.
func grpcSubchannel() (report, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: 50 * time.Millisecond}))
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	// The backend runs until the demo exits. Stopping it would end the
	// leaked watch streams, and the leaked connections would keep
	// reconnecting in the background of the next scenarios.
	go srv.Serve(ln)
	var live []*grpcsubchannel.Client
	return leakcheck.FindCycle(10, func(n int) error {
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := grpcsubchannel.Dialer{Buggy: true}.Dial(ctx, ln.Addr().String())
			if err == nil {
				_, err = c.Check(ctx)
			}
			cancel()
			if err != nil {
				return err
			}
			live = append(live, c)
		}
		return nil
	}, func() error {
		for _, c := range live {
			if err := c.Close(); err != nil {
				return err
			}
		}
		live = live[:0]
		return nil
	}, leakcheck.WithTimeout(settle))
}

// segmentStore: Take before, Find after, as in a plain leakcheck.Check.
func segmentStore() (report, error) {
	dir, err := os.MkdirTemp("", "segmentstore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s := segmentstore.New(dir)
	s.Buggy = true
	defer s.Close()
	base, err := leakcheck.Take()
	if err != nil {
		return nil, err
	}
	if err := s.CreateTopic("orders", 3); err != nil {
		return nil, err
	}
	for i := range 300 {
		if err := s.Append("orders", i%3, fmt.Appendf(nil, "order %d", i)); err != nil {
			return nil, err
		}
	}
	if err := s.DeleteTopic("orders"); err != nil {
		return nil, err
	}
	return leakcheck.Find(base, leakcheck.WithTimeout(settle))
}

// raftRestart: a soak of restarts, each serving one RPC.
func raftRestart() (report, error) {
	n := &raftrestart.Node{Buggy: true}
	defer n.Close()
	return leakcheck.RunSoak(func(int) error {
		if err := n.Start(); err != nil {
			return err
		}
		c, err := net.Dial("tcp", n.Addr())
		if err != nil {
			return err
		}
		fmt.Fprintln(c, "append entry")
		c.(*net.TCPConn).CloseWrite()
		_, err = io.ReadAll(c)
		c.Close()
		return errors.Join(err, n.Stop())
	}, leakcheck.WithIterations(10), leakcheck.WithSampleInterval(0))
}

// healthMonitor: the director closes connections idle for 5ms; the monitor
// checks every 2ms.
func healthMonitor() (report, error) {
	director := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	director.Config.IdleTimeout = 5 * time.Millisecond
	director.Start()
	defer director.Close()
	m := &healthmonitor.Monitor{URL: director.URL, Buggy: true}
	defer m.Close()
	return leakcheck.RunSoak(func(int) error {
		if _, err := m.Check(context.Background()); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
		return nil
	}, leakcheck.WithIterations(100), leakcheck.WithSampleInterval(0))
}

// echoServer is the forwards' backend: it echoes every connection.
func echoServer() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096))
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// roundTrip pushes a few bytes through the forward at addr and back.
func roundTrip(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	const msg = "GET /healthz\n"
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("forward %s: sent %q, got %q back", addr, msg, got)
	}
	return nil
}
