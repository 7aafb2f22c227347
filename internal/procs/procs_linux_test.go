package procs

import (
	"io/fs"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A real child, running and then a zombie, as the test process's own.
func TestChildrenLive(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	find := func() (Process, bool) {
		kids, err := Children(os.Getpid())
		require.NoError(t, err)
		for _, k := range kids {
			if k.PID == cmd.Process.Pid {
				return k, true
			}
		}
		return Process{}, false
	}
	p, ok := find()
	require.True(t, ok, "the started child is listed")
	// Start returns once exec is past its point of no return, a moment
	// before the kernel has set up the new command line: until then the
	// child shows its comm only.
	for deadline := time.Now().Add(10 * time.Second); len(p.Args) == 0 && time.Now().Before(deadline); {
		p, ok = find()
		require.True(t, ok)
	}
	assert.Equal(t, os.Getpid(), p.PPID)
	assert.Equal(t, "sleep 30", p.Command())
	assert.False(t, p.Zombie())
	assert.NotZero(t, p.Start)

	require.NoError(t, cmd.Process.Kill())
	// Killed but not waited: a zombie until Wait. Polling (no sleep as
	// synchronisation): the state changes once the kernel has delivered it.
	for {
		p, ok = find()
		require.True(t, ok, "an exited child stays listed until it is waited")
		if p.Zombie() {
			break
		}
	}
	_ = cmd.Wait()
	_, ok = find()
	assert.False(t, ok, "a waited child is gone")
}

func TestHasNone(t *testing.T) {
	// The test binary may have children of other tests' making only while
	// they run; this test starts from none.
	require.True(t, HasNone(), "no child yet")
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	assert.False(t, HasNone(), "a started child")
	// Exited but unwaited: still a child (a zombie) until Wait.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		kids, err := Children(os.Getpid())
		require.NoError(t, err)
		if len(kids) == 1 && kids[0].Zombie() {
			break
		}
	}
	assert.False(t, HasNone(), "a zombie is a child until waited")
	require.NoError(t, cmd.Wait())
	assert.True(t, HasNone(), "waited: none again")
}

// A real tree: this process → sh → a subshell → sleep, a grandchild's
// child. The subshell runs "sleep 30; true", so it forks sleep instead of
// becoming it.
func TestDescendantsLive(t *testing.T) {
	cmd := exec.Command("sh", "-c", "(sleep 30; true) & wait")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sh := cmd.Process.Pid
	var tree []Process
	// Polling until the shells have forked (no sleep as synchronisation).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		var err error
		tree, err = Descendants(os.Getpid())
		require.NoError(t, err)
		if len(tree) == 3 && tree[2].Command() == "sleep 30" {
			break
		}
	}
	require.Len(t, tree, 3, "sh, the subshell, sleep: %+v", tree)
	assert.Equal(t, sh, tree[0].PID)
	assert.Equal(t, os.Getpid(), tree[0].PPID)
	assert.Equal(t, sh, tree[1].PPID, "the subshell hangs under sh")
	assert.Equal(t, tree[1].PID, tree[2].PPID, "sleep under the subshell")
	assert.Equal(t, "sleep 30", tree[2].Command())

	below, err := Descendants(sh)
	require.NoError(t, err)
	assert.Equal(t, []int{tree[1].PID, tree[2].PID}, []int{below[0].PID, below[1].PID}, "the tree below sh")

	// The sleep ends: the subshell exits, sh's wait returns and sh exits.
	sleep, err := os.FindProcess(tree[2].PID)
	require.NoError(t, err)
	require.NoError(t, sleep.Kill())
	require.NoError(t, cmd.Wait())
	tree, err = Descendants(os.Getpid())
	require.NoError(t, err)
	assert.Empty(t, tree, "a tree that exited and was waited for is gone")

	_, err = Descendants(4194305) // above pid_max
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
