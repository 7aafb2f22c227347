package grpcsubchannel_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/leakcheck/go/examples/grpcsubchannel"
	"github.com/leakcheck/go/leakcheck"
)

// Every test here that leaks on purpose releases what it leaked: the package
// as a whole must end clean.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// backend is a real gRPC server on loopback serving the standard health
// service, ending every connection after maxAge with GOAWAY.
type backend struct {
	srv  *grpc.Server
	addr string
	done chan struct{}
}

func startBackend(t *testing.T, maxAge time.Duration) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: maxAge}))
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	b := &backend{srv: srv, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		srv.Serve(ln)
	}()
	t.Cleanup(b.stop)
	return b
}

// stop ends the server with GracefulStop: GOAWAY to every connection, then
// a wait for their streams to end.
func (b *backend) stop() {
	b.srv.GracefulStop()
	<-b.done
}

func dial(t testing.TB, d grpcsubchannel.Dialer, addr string) *grpcsubchannel.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, addr)
	require.NoError(t, err)
	require.True(t, c.Serving())
	ok, err := c.Check(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	return c
}

// TestClientAcrossGOAWAY calls a backend that ends its connections every
// 20ms for 200ms, then stops it gracefully: the fixed client gives back
// everything.
func TestClientAcrossGOAWAY(t *testing.T) {
	leakcheck.Check(t)
	b := startBackend(t, 20*time.Millisecond)
	c := dial(t, grpcsubchannel.Dialer{}, b.addr)
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		ok, err := c.Check(context.Background())
		require.NoError(t, err, "calls move to a new connection after GOAWAY")
		require.True(t, ok)
		time.Sleep(2 * time.Millisecond)
	}
	assert.True(t, c.Serving())
	require.NoError(t, c.Close())
	b.stop()
}

// TestCycleFixed creates and closes 50 clients against a backend that sends
// GOAWAY every 50ms, and passes.
func TestCycleFixed(t *testing.T) {
	b := startBackend(t, 50*time.Millisecond)
	rep := leakcheck.Cycle(t, 50, func() func() {
		c := dial(t, grpcsubchannel.Dialer{}, b.addr)
		return func() { require.NoError(t, c.Close()) }
	})
	require.NotNil(t, rep)
	assert.GreaterOrEqual(t, rep.PerCreate()["sockets/tcp ESTABLISHED"], 2.0, "a live client holds connections")
	assert.Empty(t, rep.PerCycle())
}

// TestBuggyCloseIsCaught runs the incident: each closed client leaves its
// watch connection, which survives the server's GOAWAYs because its stream
// never ends.
func TestBuggyCloseIsCaught(t *testing.T) {
	b := startBackend(t, 50*time.Millisecond)
	before, err := leakcheck.Take()
	require.NoError(t, err)
	var all, live []*grpcsubchannel.Client
	defer func() {
		for _, c := range all {
			require.NoError(t, c.CloseWatch())
		}
		after, err := leakcheck.Find(before)
		require.NoError(t, err)
		assert.False(t, after.Leaked(), "%s", after)
	}()

	const n = 20
	rep, err := leakcheck.FindCycle(n, func(k int) error {
		for range k {
			c := dial(t, grpcsubchannel.Dialer{Buggy: true}, b.addr)
			all = append(all, c)
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
	}, leakcheck.WithTimeout(300*time.Millisecond)) // several MaxConnectionAge periods: GOAWAY does not end them
	require.NoError(t, err)
	t.Logf("%s", rep)

	assert.True(t, rep.Leaked())
	cyc := rep.PerCycle()
	assert.Equal(t, 2.0, cyc["sockets/tcp ESTABLISHED"], "the watch connection's two ends, client and server")
	assert.Equal(t, 2.0, cyc["sockets"], "nothing else")
	assert.Zero(t, cyc["fds"])
	assert.Greater(t, cyc["goroutines"], 5.0, "a gRPC connection, its transport and stream, on both ends")

	// Goroutines are grouped by function and creator: the wrapper's watch
	// (waiting in its stream's Recv) and gRPC's own, n of each.
	var watchers, grpcs int
	for _, c := range rep.Retained.Categories {
		if c.Resource != leakcheck.Goroutines {
			continue
		}
		for _, g := range c.Groups {
			switch {
			case strings.Contains(g.Key, "created by github.com/leakcheck/go/examples/grpcsubchannel.Dialer.Dial at "):
				watchers += len(g.Items)
			case strings.Contains(g.Key, "google.golang.org/grpc"):
				grpcs += len(g.Items)
			}
			assert.Zero(t, len(g.Items)%n, "each leaked client leaks the same goroutines: %s", g.Key)
		}
	}
	assert.Equal(t, n, watchers)
	assert.Greater(t, grpcs, 5*n)
}
