package healthmonitor_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/examples/healthmonitor"
	"github.com/leakcheck/go/leakcheck"
)

// Every test here that leaks on purpose releases what it leaked: the package
// as a whole must end clean.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// tick is the monitor's interval in these tests, and idle how long the
// director keeps an idle connection open.
const (
	tick = 2 * time.Millisecond
	idle = 5 * time.Millisecond
)

// director serves a health endpoint and closes connections idle for longer
// than idle, as the incident's director did.
func director(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	srv.Config.IdleTimeout = idle
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// checkOnce is one tick of the monitor: a check, then the wait for the next.
func checkOnce(t testing.TB, m *healthmonitor.Monitor) {
	t.Helper()
	healthy, err := m.Check(context.Background())
	require.NoError(t, err)
	require.True(t, healthy)
	time.Sleep(tick)
}

func TestRunChecksEveryTick(t *testing.T) {
	leakcheck.Check(t)
	srv := director(t)
	m := &healthmonitor.Monitor{URL: srv.URL, Interval: tick}
	defer func() { require.NoError(t, m.Close()) }()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.Run(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	checks, healthy := m.Stats()
	assert.Greater(t, checks, 5)
	assert.GreaterOrEqual(t, healthy, checks-1, "all healthy but the check cancel may cut short")
}

// TestSoakFixed checks 100 times with the one reused client: nothing grows.
func TestSoakFixed(t *testing.T) {
	srv := director(t)
	m := &healthmonitor.Monitor{URL: srv.URL}
	defer func() { require.NoError(t, m.Close()) }()
	rep := leakcheck.Soak(t, func(int) { checkOnce(t, m) },
		leakcheck.WithIterations(100), leakcheck.WithSampleInterval(0))
	require.NotNil(t, rep)
	assert.Empty(t, rep.Growing)
	g, ok := rep.Growth("sockets")
	require.True(t, ok)
	assert.Zero(t, g.PerIteration, "at most one connection, reused until the director closes it")
}

// TestBuggySoakIsCaught runs the incident: every check leaves a connection
// that turns CLOSE_WAIT when the director hangs up, and the soak's slopes
// say so.
func TestBuggySoakIsCaught(t *testing.T) {
	srv := director(t)
	before, err := leakcheck.Take()
	require.NoError(t, err)
	m := &healthmonitor.Monitor{URL: srv.URL, Buggy: true}
	defer func() {
		// Close releases what the checks left open; prove it.
		require.NoError(t, m.Close())
		after, err := leakcheck.Find(before)
		require.NoError(t, err)
		assert.False(t, after.Leaked(), "%s", after)
	}()

	rep, err := leakcheck.RunSoak(func(int) error { checkOnce(t, m); return nil },
		leakcheck.WithIterations(100), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	t.Logf("%s", rep)

	assert.True(t, rep.Leaked())
	for key, want := range map[string]float64{
		"sockets/tcp CLOSE_WAIT": 1, // the director hung up; the monitor never closes its end
		"all fds":                1,
		"goroutines":             2, // the connection's read and write loops
	} {
		g, ok := rep.Growth(key)
		if assert.True(t, ok, "%s sampled", key) {
			assert.InDelta(t, want, g.PerIteration, 0.15, "%s per check", key)
		}
	}
	var closeWait leakcheck.Growth
	for _, g := range rep.Growing {
		if g.Key == "sockets/tcp CLOSE_WAIT" {
			closeWait = g
		}
	}
	require.NotZero(t, closeWait.Key, "CLOSE_WAIT is among the growing categories: %s", rep)
	assert.Greater(t, closeWait.End, 80)
	require.NotEmpty(t, closeWait.Culprits)
	director := srv.Listener.Addr().(*net.TCPAddr).AddrPort().String()
	for _, c := range closeWait.Culprits {
		assert.Contains(t, c.String(), "→ "+director+" CLOSE_WAIT", "the culprit is a connection to the director")
	}
}
