package goleak_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	uber "go.uber.org/goleak"

	"github.com/leakcheck/go/goleak"
	"github.com/leakcheck/go/leakcheck"
)

// origin is where a descriptor was created, which a report shows where eBPF
// may run (as root) once a baseline has started leakcheck's tracer.
const origin = `(, (opened|created) at \S+ \S+:\d+.*)?`

// openFixtures opens a file and a listener, as shared set-up does, and
// closes them when the test ends.
func openFixtures(t *testing.T) (*os.File, net.Listener) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "fixture.db"))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { f.Close(); ln.Close() })
	return f, ln
}

// IgnoreCurrent ignores every resource the process holds when it is
// called, not only goroutines: the file and the listener opened before it
// pass.
func TestIgnoreCurrentFileAndListener(t *testing.T) {
	openFixtures(t)
	rt := &recordT{}
	goleak.VerifyNone(rt, goleak.IgnoreCurrent())
	assert.False(t, rt.Failed(), rt.String())
}

// Without IgnoreCurrent the same file and listener fail VerifyNone, each
// named. goleak passes: neither has a goroutine.
func TestFileAndListenerReported(t *testing.T) {
	f, ln := openFixtures(t)
	rt := &recordT{}
	goleak.VerifyNone(rt, leakcheck.WithTimeout(100*time.Millisecond))
	require.True(t, rt.Failed())
	assert.Regexp(t, `^leakcheck: 2 leaked after waiting \S+: 1 fd, 1 socket`, rt.String())
	assert.Regexp(t, `(?m)^      fd \d+ file `+regexp.QuoteMeta(f.Name())+origin+`$`, rt.String())
	assert.Regexp(t, `(?m)^      fd \d+ tcp `+regexp.QuoteMeta(ln.Addr().String())+` LISTEN`+origin+`$`, rt.String())

	theirs := &recordT{}
	uber.VerifyNone(theirs)
	assert.False(t, theirs.Failed(), "goleak checks goroutines only: %s", theirs)
}

// leavesFileOpen is a test as a goleak user writes it, whose code forgets
// to close a file.
func leavesFileOpen(t goleak.TestingT, dir string) *os.File {
	defer goleak.VerifyNone(t, leakcheck.WithTimeout(100*time.Millisecond))
	f, _ := os.Create(filepath.Join(dir, "segment.log"))
	return f // the caller keeps it reachable, so no finalizer closes it
}

// A file leaked under the drop-in's VerifyNone fails the test. The same
// test under go.uber.org/goleak passes: no goroutine is left behind.
func TestFileLeakedUnderVerifyNone(t *testing.T) {
	dir := t.TempDir()
	rt := &recordT{}
	f := leavesFileOpen(rt, dir)
	defer f.Close()
	require.True(t, rt.Failed(), "the drop-in reports the file")
	assert.Regexp(t, `(?m)fds \(1\):\n  file \(1\):\n      fd \d+ file `+regexp.QuoteMeta(f.Name())+origin+`$`, rt.String())

	theirs := &recordT{}
	uber.VerifyNone(theirs)
	assert.False(t, theirs.Failed(), "goleak passes a test that leaks only a file: %s", theirs)
}
