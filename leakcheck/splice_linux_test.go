package leakcheck_test

import (
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/fdsnap"
)

// A forwarder that copies between TCP connections with io.Copy: the
// standard library splices through pipes from its pool, which only the
// garbage collector closes. They are not the test's leak.
func TestSplicePipesAreNotALeak(t *testing.T) {
	// Empty the pool first (two collections clear a sync.Pool; cleanups
	// close the pipes), so this test's copy creates its own.
	require.Eventually(t, func() bool {
		runtime.GC()
		s, err := fdsnap.Take()
		require.NoError(t, err)
		for _, fd := range s.FDs {
			if fdsnap.IsSplicePipe(fd) {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond)
	ft := runCheck(t, func() {
		backend, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer backend.Close()
		front, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer front.Close()
		done := make(chan struct{})
		go func() { // the backend echoes
			defer close(done)
			c, err := backend.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}()
		proxied := make(chan struct{})
		go func() { // the forwarder: io.Copy between two TCP connections
			defer close(proxied)
			in, err := front.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", backend.Addr().String())
			if err != nil {
				in.Close()
				return
			}
			go func() { io.Copy(out, in); out.(*net.TCPConn).CloseWrite() }()
			io.Copy(in, out)
			in.Close()
			out.Close()
		}()
		c, err := net.Dial("tcp", front.Addr().String())
		require.NoError(t, err)
		payload := make([]byte, 256<<10)
		go func() { c.Write(payload); c.(*net.TCPConn).CloseWrite() }()
		n, err := io.Copy(io.Discard, c)
		require.NoError(t, err)
		require.EqualValues(t, len(payload), n)
		c.Close()
		<-proxied
		<-done
	})
	assert.Empty(t, ft.errorText(), "pooled splice pipes are the standard library's")
	assert.Regexp(t, `\d+ pooled splice pipes`, ft.attrs["leakcheck"], "the copy did splice through pooled pipes, and they were counted as ignored")
}

func TestSplicePipeRecognised(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	s, err := fdsnap.Take()
	require.NoError(t, err)
	fd, ok := s.Lookup(int(r.Fd()))
	require.True(t, ok)
	assert.False(t, fdsnap.IsSplicePipe(fd), "a plain pipe of the user's is not the pool's")
}

// The leaky twin: a pipe of the user's own, left open next to the pooled
// ones, is still reported.
func TestUserPipeLeakNextToSplicePipes(t *testing.T) {
	var r, w *os.File
	ft := runCheck(t, func() {
		var err error
		r, w, err = os.Pipe()
		require.NoError(t, err)
	}, short)
	defer r.Close()
	defer w.Close()
	assert.Contains(t, ft.errorText(), "pipe (2):", "the ignore for pooled splice pipes does not hide a user's pipe")
}
