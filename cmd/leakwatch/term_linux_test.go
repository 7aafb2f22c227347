package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY returns the two sides of a new pseudo-terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

func TestIsTerminal(t *testing.T) {
	_, tty := openPTY(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.True(t, isTerminal(tty), "a pseudo-terminal")
	assert.False(t, isTerminal(w), "a pipe")
	assert.False(t, isTerminal(&bytes.Buffer{}), "not a file")
}

func TestProgressOnTerminal(t *testing.T) {
	master, tty := openPTY(t)
	var screen syncBuffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&screen, master) // ends with EIO when the tty closes
		close(copied)
	}()
	idle := startChild(t, "idle") // no work: nothing in flight to read as growth in a few samples
	var errOut syncBuffer
	status := run([]string{"-p", strconv.Itoa(idle.Process.Pid), "--interval=20ms", "--duration=300ms"}, tty, &errOut)
	require.Equal(t, exitOK, status, errOut.String())
	tty.Close()
	<-copied

	out := screen.String()
	redraws := strings.Count(out, "\r") - strings.Count(out, "\r\n")
	assert.Greater(t, redraws, 5, "one line rewritten in place, about 15 times: %q", out)
	assert.Contains(t, out, "\x1b[K", "each redraw clears the rest of the line")
	assert.Regexp(t, `\r[0-9.]+s #\d+  fds \d+`, out)
	assert.Contains(t, out, "\r\x1b[Kleakwatch: pid ", "the progress line is cleared before the summary")
}
