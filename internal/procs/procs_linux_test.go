package procs

import (
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
