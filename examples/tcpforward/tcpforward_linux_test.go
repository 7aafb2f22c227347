package tcpforward_test

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/examples/tcpforward"
	"github.com/leakcheck/go/leakcheck"
)

// Every test here that leaks on purpose releases what it leaked: the package
// as a whole must end clean.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// echo starts a backend that echoes each connection back until EOF.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				// Not io.Copy(c, c): it would splice(2) through pooled pipes.
				io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// roundTrip pushes msg through the forward at addr and checks it comes back.
func roundTrip(t testing.TB, addr net.Addr, msg string) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, msg)
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

func TestForwardCarriesBytes(t *testing.T) {
	leakcheck.Check(t)
	backend := echo(t)
	g := &tcpforward.Gateway{}
	defer func() { require.NoError(t, g.Close()) }()
	f, err := g.Forward(backend)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roundTrip(t, f.Addr(), fmt.Sprintf("request %d through the gateway", i))
		}()
	}
	wg.Wait()
	require.NoError(t, g.Delete(f))
	assert.Error(t, g.Delete(f), "a second Delete is misuse")
	_, err = net.DialTimeout("tcp", f.Addr().String(), time.Second)
	assert.Error(t, err, "the listener is closed")
}

// TestForwardCycleFixed creates 200 forwards, pushes bytes through each,
// deletes them all, and passes: Delete gives back the event loop.
func TestForwardCycleFixed(t *testing.T) {
	backend := echo(t)
	g := &tcpforward.Gateway{}
	defer func() { require.NoError(t, g.Close()) }()
	rep := leakcheck.Cycle(t, 200, func() func() {
		f, err := g.Forward(backend)
		require.NoError(t, err)
		roundTrip(t, f.Addr(), "hello")
		return func() { require.NoError(t, g.Delete(f)) }
	})
	require.NotNil(t, rep)
	per := rep.PerCreate()
	assert.Equal(t, 1.0, per["fds/eventpoll"])
	assert.Equal(t, 4.0, per["fds/eventfd"], "one per task queue")
	assert.Equal(t, 1.0, per["sockets/tcp LISTEN"])
	assert.Empty(t, rep.PerCycle())
}

// TestBuggyDeleteIsCaught runs the incident: every Delete leaves its event
// loop behind, and the cycle names what each one retains.
func TestBuggyDeleteIsCaught(t *testing.T) {
	backend := echo(t)
	before, err := leakcheck.Take()
	require.NoError(t, err)
	g := &tcpforward.Gateway{Buggy: true}
	defer func() {
		// Shutting the gateway down releases the loops; prove it.
		require.NoError(t, g.Close())
		after, err := leakcheck.Find(before)
		require.NoError(t, err)
		assert.False(t, after.Leaked(), "%s", after)
	}()

	var live []*tcpforward.Forward
	rep, err := leakcheck.FindCycle(200, func(n int) error {
		for range n {
			f, err := g.Forward(backend)
			if err != nil {
				return err
			}
			roundTrip(t, f.Addr(), "hello")
			live = append(live, f)
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
	}, leakcheck.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	t.Logf("%s", rep)

	assert.True(t, rep.Leaked())
	per := rep.PerCreate()
	assert.Equal(t, 1.0, per["fds/eventpoll"])
	assert.Equal(t, 4.0, per["fds/eventfd"])
	assert.Equal(t, 1.0, per["sockets/tcp LISTEN"])

	cyc := rep.PerCycle()
	assert.Equal(t, 1.0, cyc["fds/eventpoll"], "the loop's epoll instance stays")
	assert.Equal(t, 4.0, cyc["fds/eventfd"], "and its eventfds")
	assert.Equal(t, 5.0, cyc["fds"], "and nothing else")
	assert.Equal(t, 1.0, cyc["goroutines"], "and the goroutine in epoll_wait")
	assert.Zero(t, cyc["sockets"], "the listener is closed")
	assert.Equal(t, 200*5, rep.Retained.Count(leakcheck.FDs))
}
