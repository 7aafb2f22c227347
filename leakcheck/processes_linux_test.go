package leakcheck_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/leakcheck"
)

// reap kills and waits for the children a test left, after its check.
func reap(t *testing.T, cmds ...*exec.Cmd) {
	t.Helper()
	for _, c := range cmds {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
}

// waitZombie waits until pid has exited (and, unwaited, is a zombie).
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		require.NoError(t, err)
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pid %d did not exit", pid)
}

func TestChildStartedNeverWaited(t *testing.T) {
	var cmd *exec.Cmd
	ft := runCheck(t, func() {
		cmd = exec.Command("sleep", "20")
		require.NoError(t, cmd.Start())
	}, short)
	defer reap(t, cmd)
	msg := ft.errorText()
	assert.Regexp(t, `^leakcheck: 1 leaked after waiting \S+: 1 process `, msg, "one child, nothing else")
	assert.Contains(t, msg, "processes (1):\n  sleep 20 (1):\n")
	assert.Regexp(t, fmt.Sprintf(`child process %d sleep 20 \(running, pidfd \d+\)`, cmd.Process.Pid), msg,
		"the child, running, with the pidfd Go keeps for it")
	assert.NotContains(t, msg, "fds (", "the pidfd is shown with its process, not as a second mystery fd")
	assert.Contains(t, msg, "1 pidfds shown with their child process ignored")
}

func TestChildExitedNeverWaited(t *testing.T) {
	var cmd *exec.Cmd
	ft := runCheck(t, func() {
		cmd = exec.Command("true")
		require.NoError(t, cmd.Start())
		waitZombie(t, cmd.Process.Pid)
	}, short)
	defer reap(t, cmd)
	assert.Regexp(t, fmt.Sprintf(`child process %d true \(zombie: exited, never waited, pidfd \d+\)`, cmd.Process.Pid), ft.errorText())
}

func TestChildrenClean(t *testing.T) {
	tests := []struct {
		name string
		body func(t *testing.T)
	}{
		{"Run starts and waits", func(t *testing.T) {
			require.NoError(t, exec.Command("true").Run())
		}},
		{"CommandContext cancelled and waited", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, "sleep", "20")
			require.NoError(t, cmd.Start())
			cancel()
			assert.Error(t, cmd.Wait(), "killed by the cancelled context")
		}},
		{"waited shortly after the body, within the settle window", func(t *testing.T) {
			cmd := exec.Command("sleep", "0.2")
			require.NoError(t, cmd.Start())
			go func() { _ = cmd.Wait() }()
		}},
		{"a grandchild reparented away is not the test's", func(t *testing.T) {
			out, err := exec.Command("sh", "-c", "sleep 20 >/dev/null 2>&1 & echo $!").Output()
			require.NoError(t, err)
			pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
			require.NoError(t, err)
			t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
			require.NoError(t, unix.Kill(pid, 0), "the grandchild runs on, under another parent")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := runCheck(t, func() { tt.body(t) }, leakcheck.WithTimeout(5*time.Second))
			assert.Empty(t, ft.errorText())
		})
	}
}

// A pidfd whose process was reaped refers to nothing that runs: it stays
// a descriptor leak.
func TestReapedPidfdIsAnFDLeak(t *testing.T) {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	var pidfd int
	ft := runCheck(t, func() {
		var err error
		pidfd, err = unix.PidfdOpen(cmd.Process.Pid, 0)
		require.NoError(t, err)
		require.NoError(t, cmd.Wait())
	}, short)
	defer unix.Close(pidfd)
	msg := ft.errorText()
	assert.Contains(t, msg, fmt.Sprintf("fd %d pidfd (process reaped)", pidfd))
	assert.NotContains(t, msg, "processes (")
}

// Another process's children: a shell that starts a sleep when told to.
func TestChildOfAnotherProcess(t *testing.T) {
	sh := exec.Command("sh", "-c", `echo ready; read x; sleep 20 & echo started; wait`)
	stdin, err := sh.StdinPipe()
	require.NoError(t, err)
	stdout, err := sh.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, sh.Start())
	defer reap(t, sh)
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	require.Equal(t, "ready", lines.Text())

	ft := runCheck(t, func() {
		_, err := fmt.Fprintln(stdin, "go")
		require.NoError(t, err)
		require.True(t, lines.Scan())
		require.Equal(t, "started", lines.Text())
	}, leakcheck.WithPID(sh.Process.Pid), leakcheck.WithResources(leakcheck.Processes), short)
	kids := childrenOf(t, sh.Process.Pid)
	defer func() {
		for _, k := range kids {
			_ = unix.Kill(k, unix.SIGKILL)
		}
	}()
	msg := ft.errorText()
	assert.Regexp(t, fmt.Sprintf(`1 leaked by pid %d after waiting \S+: 1 process`, sh.Process.Pid), msg)
	assert.Contains(t, msg, "sleep 20 (running)")
}

func childrenOf(t *testing.T, pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	require.NoError(t, err)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func TestCycleRetainsZombies(t *testing.T) {
	var all []*exec.Cmd
	defer func() { reap(t, all...) }()
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 5, func() func() {
		cmd := exec.Command("sleep", "20")
		require.NoError(t, cmd.Start())
		all = append(all, cmd)
		return func() { _ = cmd.Process.Kill() } // killed, never waited
	}, short)
	require.NotNil(t, rep)
	assert.Equal(t, 1.0, rep.PerCreate()["processes"], "%s", rep)
	assert.Equal(t, 1.0, rep.PerCycle()["processes"], "a zombie per cycle: %s", rep)
	assert.Contains(t, ft.errorText(), "retained per cycle: 1 process")
	assert.Contains(t, ft.errorText(), "zombie: exited, never waited")
}

func TestSoakOfChildren(t *testing.T) {
	var all []*exec.Cmd
	defer func() { reap(t, all...) }()
	rep, err := leakcheck.RunSoak(func(int) error {
		cmd := exec.Command("sleep", "20")
		all = append(all, cmd)
		return cmd.Start()
	}, leakcheck.WithIterations(12), leakcheck.WithSampleInterval(0))
	require.NoError(t, err)
	g, ok := rep.Growth("processes")
	require.True(t, ok, "%s", rep)
	assert.Equal(t, 1.0, g.PerIteration)
	assert.True(t, rep.Leaked())
	require.NotEmpty(t, rep.Growing)
	assert.Contains(t, rep.String(), "processes/sleep 20 +1.00/iteration")
	assert.Contains(t, rep.String(), "child process ")
}

// TestScenarioChildLeak starts a child and never waits for it: the package's
// VerifyTestMain reports it.
func TestScenarioChildLeak(t *testing.T) {
	scenario(t)
	cmd := exec.Command("sleep", "20")
	require.NoError(t, cmd.Start())
	fmt.Printf("child pid %d\n", cmd.Process.Pid)
}

func TestVerifyTestMainSeesChildren(t *testing.T) {
	out, code := runChild(t, "scenarios", "-test.run=^TestScenarioChildLeak$")
	var pid int
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "child pid %d", &pid); err == nil {
			break
		}
	}
	require.NotZero(t, pid, out)
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "processes (1):", out)
	assert.Contains(t, out, fmt.Sprintf("child process %d sleep 20 (running", pid), out)
}
