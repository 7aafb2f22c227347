package leakcheck_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// director is a server that answers one line and closes the connection, as
// the health monitor incident's director closed idle connections.
func director(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "ok")
			c.Close()
		}
	}()
	return ln
}

func TestSoakCloseWaitLeak(t *testing.T) {
	ln := director(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		ln.Close()
	}()
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Soak(ft, func(int) {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		buf := make([]byte, 3)
		io.ReadFull(c, buf)
		conns = append(conns, c) // never closed: CLOSE_WAIT once the director hangs up
	}, leakcheck.WithIterations(60), leakcheck.WithSampleInterval(0), leakcheck.WithResources(leakcheck.FDs|leakcheck.Sockets))
	require.NotNil(t, rep)
	assert.True(t, ft.Failed())
	g, ok := rep.Growth("sockets/tcp CLOSE_WAIT")
	require.True(t, ok, "%s", rep)
	assert.InDelta(t, 1.0, g.PerIteration, 0.1, "one socket per iteration")
	assert.Greater(t, g.End, 40)
	msg := ft.errorText()
	assert.Contains(t, msg, "sockets/tcp CLOSE_WAIT +1.00/iteration")
	assert.Contains(t, msg, "→ "+ln.Addr().String()+" CLOSE_WAIT", "the culprit's addresses are named")
	assert.Contains(t, msg, "all fds +1.00/iteration")
	require.NotEmpty(t, rep.Growing)
	assert.Contains(t, []string{"sockets/tcp CLOSE_WAIT", "sockets", "all fds"}, rep.Growing[0].Key)
}

// A cache that fills to ten open files and then evicts: bounded, so it passes.
func TestSoakBoundedCachePasses(t *testing.T) {
	dir := t.TempDir()
	var cache []*os.File
	defer func() {
		for _, f := range cache {
			f.Close()
		}
	}()
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Soak(ft, func(i int) {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%d", i)))
		require.NoError(t, err)
		cache = append(cache, f)
		if len(cache) > 10 {
			cache[0].Close()
			cache = cache[1:]
		}
	}, leakcheck.WithIterations(200), leakcheck.WithSampleInterval(0), leakcheck.WithResources(leakcheck.FDs|leakcheck.Sockets))
	require.NotNil(t, rep)
	assert.False(t, ft.Failed(), ft.errorText())
	g, ok := rep.Growth("fds/file")
	require.True(t, ok)
	assert.Equal(t, 0.0, g.PerIteration, "flat after the warm-up")
	assert.Equal(t, 10, g.Max-(g.End-10), "it did hold ten files")
}

func TestSoakProgressAndDuration(t *testing.T) {
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Soak(ft, func(int) { time.Sleep(time.Millisecond) },
		leakcheck.WithDuration(150*time.Millisecond), leakcheck.SoakProgressEvery(20*time.Millisecond))
	require.NotNil(t, rep)
	assert.False(t, ft.Failed(), ft.errorText())
	// It ran until the duration was up, not a count of iterations (how
	// many fit depends on the machine's load: "more than 10" failed once in
	// ten under -race on a busy machine).
	assert.GreaterOrEqual(t, rep.Elapsed, 150*time.Millisecond)
	assert.Greater(t, rep.Iterations, 1)
	assert.Contains(t, ft.logText(), "leakcheck: soak 0s: ")
	assert.Regexp(t, `\d+ iterations: \d+ goroutines, \d+ fds, \d+ sockets, \d+ threads, \d+ processes`, ft.logText())
	assert.Contains(t, ft.logText(), "nothing grew")
}

func TestSoakMisuse(t *testing.T) {
	for _, tc := range []struct {
		opt  leakcheck.Option
		want string
	}{
		{leakcheck.WithIterations(1), "WithIterations(1): a slope needs at least 2 iterations"},
		{leakcheck.WithDuration(0), "WithDuration(0s): want a positive duration"},
		{leakcheck.WithWarmup(1), "WithWarmup(1)"},
		{leakcheck.WithMaxSlope(-1), "WithMaxSlope(-1): want a growth ≥ 0"},
	} {
		ft := newFakeT(t, t.Name())
		assert.Nil(t, leakcheck.Soak(ft, func(int) {}, tc.opt))
		assert.Contains(t, ft.errorText(), tc.want)
	}
	_, err := leakcheck.RunSoak(nil)
	assert.ErrorContains(t, err, "a soak needs an operation to repeat")
	_, err = leakcheck.RunSoak(func(i int) error {
		if i == 3 {
			return fmt.Errorf("director unreachable")
		}
		return nil
	}, leakcheck.WithIterations(10))
	assert.ErrorContains(t, err, "soak iteration 3: director unreachable")
}

func TestSoakWritesJSONAndSVG(t *testing.T) {
	rep, err := leakcheck.RunSoak(func(int) error { return nil }, leakcheck.WithIterations(20), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, rep.WriteJSON(filepath.Join(dir, "soak.json")))
	require.NoError(t, rep.WriteSVG(filepath.Join(dir, "soak.svg")))
	j, _ := os.ReadFile(filepath.Join(dir, "soak.json"))
	assert.Contains(t, string(j), `"schema": "leakcheck.series/v1"`)
	svg, _ := os.ReadFile(filepath.Join(dir, "soak.svg"))
	assert.True(t, strings.HasPrefix(string(svg), "<svg") || strings.Contains(string(svg), "<svg "))
}
