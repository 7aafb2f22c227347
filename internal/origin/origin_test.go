package origin

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsSystem(t *testing.T) {
	cases := []struct {
		fn     string
		system bool
		why    string
	}{
		{"os.OpenFile", true, "standard library, no slash"},
		{"internal/poll.(*FD).Init", true, "standard library, nested path"},
		{"runtime.goexit", true, "runtime"},
		{"net.(*sysListener).listen", true, "method of a standard type"},
		{"internal/runtime/syscall/linux.Syscall6", true, "the syscall stub"},
		{"golang.org/x/sys/unix.Openat2", true, "x/sys wraps syscalls like syscall does"},
		{"golang.org/x/net/http2.(*Transport).dialTLS", false, "other x/ modules are libraries"},
		{"main.run", false, "package main of a command"},
		{"command-line-arguments.run", false, "go run of files"},
		{"github.com/leakcheck/go/internal/origin.TestFD.func3", false, "test binaries name main by its import path"},
		{"example.com/pkg.(*T).M.func1", false, "a dot in the first element"},
		{"example.com/a.b/c.F", false, "dots in later elements do not hide the first"},
		{"", true, "empty: not a user frame"},
	}
	for _, c := range cases {
		assert.Equalf(t, c.system, isSystem(c.fn), "%s: %s", c.fn, c.why)
	}
}

// TestFrames symbolises a stack of this process the way Frames does for the
// tracer's: return addresses from runtime.Callers.
func TestFrames(t *testing.T) {
	pcs := make([]uintptr, 32)
	pcs = pcs[:runtime.Callers(1, pcs)]
	_, file, line, _ := runtime.Caller(0)
	line--
	o := Origin{Syscall: "openat", PID: os.Getpid(), TID: 7, PCs: pcs}
	frames := o.Frames()
	require.NotEmpty(t, frames)
	assert.Equal(t, "github.com/leakcheck/go/internal/origin.TestFrames", frames[0].Function)
	assert.Equal(t, line, frames[0].Line)
	assert.Equal(t, file, frames[0].File)
	assert.Equal(t, "openat by tid 7: github.com/leakcheck/go/internal/origin.TestFrames ("+file+":"+strconv.Itoa(line)+")", o.String())

	other := o
	other.PID = os.Getpid() + 1
	frames = other.Frames()
	require.Len(t, frames, len(pcs), "another process: one frame per PC")
	for i, f := range frames {
		assert.Equal(t, runtime.Frame{PC: pcs[i]}, f, "another process: PC only")
	}
	assert.True(t, strings.HasPrefix(other.String(), "openat by tid 7 in pid "+strconv.Itoa(other.PID)+" at 0x"), other.String())

	assert.Nil(t, Origin{PID: os.Getpid()}.Frames())
	assert.Equal(t, "socket by tid 1: no user stack", Origin{Syscall: "socket", TID: 1, PID: os.Getpid()}.String())
}

func TestStartMisuse(t *testing.T) {
	for _, pid := range []int{0, -1} {
		tr, err := Start(pid)
		assert.Nil(t, tr)
		require.Error(t, err)
		assert.Falsef(t, errors.Is(err, ErrUnavailable), "Start(%d) is a misuse, not unavailability: %v", pid, err)
		assert.Contains(t, err.Error(), "not a process ID")
	}
}
