package leakcheck_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// server is a child process started from the test binary (role "server").
type server struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	dir   string
}

func startServer(t *testing.T, leaky bool, env ...string) *server {
	t.Helper()
	dir := t.TempDir()
	extra := env
	cmd := exec.Command(os.Args[0])
	env = []string{"LEAKCHECK_CHILD=server", "LEAKCHECK_DIR=" + dir, "GORACE=atexit_sleep_ms=0"}
	if leaky {
		env = append(env, "LEAKCHECK_LEAKY=1")
	}
	cmd.Env = append(append(os.Environ(), env...), extra...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	addr, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	s := &server{cmd: cmd, addr: strings.TrimSpace(addr), stdin: stdin, dir: dir}
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	s.stdin.Close()
	s.cmd.Wait()
}

func (s *server) request(t *testing.T, what string) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintln(c, what)
	reply, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ok\n", reply)
}

func TestPIDLeakyServer(t *testing.T) {
	leakcheck.ResetSaidOnce()
	srv := startServer(t, true)
	ft := runCheck(t, func() {
		for range 3 {
			srv.request(t, "open")
		}
		srv.request(t, "thread")
	}, leakcheck.WithPID(srv.cmd.Process.Pid), short)
	msg := ft.errorText()
	assert.Contains(t, msg, fmt.Sprintf("leaked by pid %d", srv.cmd.Process.Pid))
	assert.Contains(t, msg, "fds (3):")
	assert.Contains(t, msg, "file "+srv.dir+"/request-")
	assert.Contains(t, msg, "threads (1):")
	assert.Contains(t, msg, "raft-rpc-proc (1):")
	assert.NotContains(t, msg, "goroutines", "goroutines are the current process's only")
	assert.Contains(t, ft.logText(), "goroutines are checked only in the current process")
}

func TestPIDCleanServer(t *testing.T) {
	srv := startServer(t, false)
	ft := runCheck(t, func() {
		for range 3 {
			srv.request(t, "open")
		}
		srv.request(t, "thread")
	}, leakcheck.WithPID(srv.cmd.Process.Pid), leakcheck.WithTimeout(5*time.Second))
	assert.Empty(t, ft.errorText(), "the clean twin closes its files and ends its threads")
}

func TestPIDCycle(t *testing.T) {
	srv := startServer(t, true)
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 5, func() func() {
		srv.request(t, "open")
		return func() {} // the server has no way to close it: the leak
	}, leakcheck.WithPID(srv.cmd.Process.Pid), short)
	require.NotNil(t, rep)
	assert.True(t, ft.Failed())
	assert.Equal(t, 1.0, rep.PerCycle()["fds/file"])
}

func TestPIDTargetExits(t *testing.T) {
	srv := startServer(t, false)
	pid := srv.cmd.Process.Pid
	base, err := leakcheck.Take(leakcheck.WithPID(pid))
	require.NoError(t, err)
	srv.stop()
	_, err = leakcheck.Find(base, leakcheck.WithPID(pid))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("target pid %d exited during the check", pid))
	assert.ErrorIs(t, err, os.ErrNotExist)

	_, err = leakcheck.Find(base)
	assert.ErrorContains(t, err, "take the baseline with the same WithPID option", "a baseline of another process cannot be compared with this one")
}

// Threads named like the process's renamed main thread are still the
// leak: "unnamed" means the executable's name, not the main thread's.
func TestPIDThreadNamedLikeRenamedMainThread(t *testing.T) {
	srv := startServer(t, true, "LEAKCHECK_RENAME_MAIN=1")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", srv.cmd.Process.Pid))
	require.NoError(t, err)
	require.Equal(t, "raft-rpc-proc\n", string(b), "the child renamed its main thread")
	ft := runCheck(t, func() {
		srv.request(t, "thread")
		srv.request(t, "thread")
	}, leakcheck.WithPID(srv.cmd.Process.Pid), leakcheck.WithResources(leakcheck.Threads), short)
	assert.Contains(t, ft.errorText(), "raft-rpc-proc (2):")
}
