package raftrestart_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/examples/raftrestart"
	"github.com/leakcheck/go/leakcheck"
)

const procKey = "threads/" + raftrestart.ProcessorName

func init() {
	if os.Getenv("RAFTRESTART_CHILD") == "node" {
		// Keep the child's main thread for its main goroutine, so no RPC
		// processor ever locks and renames it: checking another process,
		// leakcheck takes its main thread's name for the name the Go
		// runtime's own threads carry, and a renamed main thread would
		// hide the leaked processors among them.
		runtime.LockOSThread()
	}
}

// The test binary checks itself with VerifyTestMain, so every test that
// leaks on purpose releases what it leaked. With RAFTRESTART_CHILD=node it
// is instead a node process driven over stdin (see childNode).
func TestMain(m *testing.M) {
	if os.Getenv("RAFTRESTART_CHILD") == "node" {
		childNode()
		return
	}
	leakcheck.VerifyTestMain(m)
}

// rpc sends one append RPC to the node at addr and checks the answer.
func rpc(t testing.TB, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintln(c, "append entry")
	require.NoError(t, err)
	// Half-close and read to EOF: when this returns, the node has closed
	// its end too, so no socket lingers in CLOSE_WAIT after the RPC.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	reply, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Regexp(t, `^ok \d+\n$`, string(reply))
}

// restart is one iteration of the incident: start, serve an RPC, stop.
func restart(t testing.TB, n *raftrestart.Node) {
	t.Helper()
	require.NoError(t, n.Start())
	rpc(t, n.Addr())
	require.NoError(t, n.Stop())
}

func TestNodeServesAndStops(t *testing.T) {
	leakcheck.Check(t)
	n := &raftrestart.Node{}
	require.NoError(t, n.Start())
	addr := n.Addr()
	for range 3 {
		rpc(t, addr)
	}
	assert.Error(t, n.Start(), "a running node cannot start twice")
	require.NoError(t, n.Stop())
	assert.Error(t, n.Stop(), "a stopped node cannot stop twice")
	restart(t, n)
	assert.Equal(t, addr, n.Addr(), "a restart keeps the address")
}

// TestRestartFixed restarts a node 30 times and gives back every thread.
// (It checks with Check rather than Soak: each processor thread that ends
// makes the Go runtime start one of its own Ms later, and the count of
// those wanders over a short soak; Check knows them by name and ignores
// them.)
func TestRestartFixed(t *testing.T) {
	leakcheck.Check(t)
	n := &raftrestart.Node{}
	for range 30 {
		restart(t, n)
	}
	assert.False(t, n.Running())
}

// TestBuggyRestartIsCaught restarts the buggy node: every restart leaves its
// eight processor threads behind, and the soak names them.
func TestBuggyRestartIsCaught(t *testing.T) {
	n := &raftrestart.Node{Buggy: true}
	restart(t, n)
	require.NoError(t, n.Close())
	before, err := leakcheck.Take()
	require.NoError(t, err)
	defer func() {
		// Close shuts down every pool the buggy Stops left running.
		require.NoError(t, n.Close())
		after, err := leakcheck.Find(before)
		require.NoError(t, err)
		assert.False(t, after.Leaked(), "%s", after)
	}()

	rep, err := leakcheck.RunSoak(func(int) error { restart(t, n); return nil },
		leakcheck.WithIterations(20), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	t.Logf("%s", rep)

	assert.True(t, rep.Leaked())
	g, ok := rep.Growth(procKey)
	require.True(t, ok, "%s", rep)
	assert.Equal(t, 8.0, g.PerIteration, "eight processor threads per restart")
	assert.Equal(t, 160, g.End)
	require.NotNil(t, rep.End)
	assert.Equal(t, 160, rep.End.Counts()[procKey])
	assert.Equal(t, 160, rep.End.Count(leakcheck.Threads), "no other thread is blamed")
	assert.Zero(t, rep.End.Count(leakcheck.FDs|leakcheck.Sockets), "the listener is closed")
}

// node is a child process running a node (RAFTRESTART_CHILD=node), told to
// start and stop over its stdin.
type node struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startChild(t *testing.T, buggy bool) *node {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RAFTRESTART_CHILD=node", fmt.Sprintf("RAFTRESTART_BUGGY=%t", buggy),
		"GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &node{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close()
		assert.NoError(t, cmd.Wait())
	})
	return c
}

// do sends a command to the child and returns its answer.
func (c *node) do(t *testing.T, cmd string) string {
	t.Helper()
	_, err := fmt.Fprintln(c.in, cmd)
	require.NoError(t, err)
	reply, err := c.out.ReadString('\n')
	require.NoError(t, err)
	reply = strings.TrimSpace(reply)
	require.True(t, strings.HasPrefix(reply, "ok"), "child answered %q to %q", reply, cmd)
	return strings.TrimSpace(strings.TrimPrefix(reply, "ok"))
}

func (c *node) restart(t *testing.T) {
	t.Helper()
	rpc(t, c.do(t, "start"))
	c.do(t, "stop")
}

// TestChildByPID checks a node running in another process, as an operator
// would check a Raft server: by PID, its threads by name.
func TestChildByPID(t *testing.T) {
	for _, tc := range []struct {
		buggy  bool
		leaked int
		why    string
	}{
		{false, 0, "Stop shuts the processors down: their threads end"},
		{true, 5 * 8, "each of 5 restarts leaves 8 processor threads"},
	} {
		t.Run(fmt.Sprintf("buggy=%t", tc.buggy), func(t *testing.T) {
			child := startChild(t, tc.buggy)
			pid := leakcheck.WithPID(child.cmd.Process.Pid)
			child.restart(t) // warm-up: the first start binds the address
			base, err := leakcheck.Take(pid)
			require.NoError(t, err)
			for range 5 {
				child.restart(t)
			}
			rep, err := leakcheck.Find(base, pid, leakcheck.WithTimeout(500*time.Millisecond))
			require.NoError(t, err)
			assert.Equal(t, tc.leaked, rep.Counts()[procKey], tc.why)
			assert.Equal(t, tc.leaked, rep.Count(leakcheck.AllResources), "nothing else: %s", rep)
			assert.Equal(t, tc.buggy, rep.Leaked())
			if tc.buggy {
				t.Logf("%s", rep)
			}
		})
	}
}

// childNode runs a node and obeys "start" (answering "ok ADDR") and "stop"
// on stdin until it closes.
func childNode() {
	n := &raftrestart.Node{Buggy: os.Getenv("RAFTRESTART_BUGGY") == "true"}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var err error
		switch sc.Text() {
		case "start":
			if err = n.Start(); err == nil {
				fmt.Println("ok", n.Addr())
				continue
			}
		case "stop":
			err = n.Stop()
		default:
			err = fmt.Errorf("unknown command %q", sc.Text())
		}
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		fmt.Println("ok")
	}
	n.Close()
}
