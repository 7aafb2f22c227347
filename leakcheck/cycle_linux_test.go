package leakcheck_test

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/leakcheck"
)

// forward is a toy TCP forward with an event loop: a listener, an epoll
// instance, three eventfds and a goroutine. Its buggy Delete closes only the
// listener, like the API gateway incident's.
type forward struct {
	ln    net.Listener
	ep    int
	efds  []int
	stop  chan struct{}
	fixed bool
}

func newForward(t testing.TB, fixed bool) *forward {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	require.NoError(t, err)
	f := &forward{ln: ln, ep: ep, stop: make(chan struct{}), fixed: fixed}
	for range 3 {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		require.NoError(t, err)
		require.NoError(t, unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN}))
		f.efds = append(f.efds, efd)
	}
	go f.loop()
	return f
}

func (f *forward) loop() { <-f.stop }

func (f *forward) Delete() {
	f.ln.Close()
	if f.fixed {
		close(f.stop)
		for _, fd := range f.efds {
			unix.Close(fd)
		}
		unix.Close(f.ep)
	}
}

// release frees what a buggy Delete left, so the package stays clean.
func (f *forward) release() {
	if !f.fixed {
		close(f.stop)
		for _, fd := range f.efds {
			unix.Close(fd)
		}
		unix.Close(f.ep)
	}
}

func TestCycleLeaky(t *testing.T) {
	var all []*forward
	defer func() {
		for _, f := range all {
			f.release()
		}
	}()
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 20, func() func() {
		f := newForward(t, false)
		all = append(all, f)
		return f.Delete
	}, leakcheck.WithTimeout(300*time.Millisecond))
	require.NotNil(t, rep)
	assert.True(t, ft.Failed(), "a leaky cycle fails the test")
	assert.Equal(t, 20, rep.N)

	per := rep.PerCreate()
	assert.Equal(t, 4.0, per["fds"], "epoll + 3 eventfds")
	assert.Equal(t, 1.0, per["fds/eventpoll"])
	assert.Equal(t, 3.0, per["fds/eventfd"])
	assert.Equal(t, 1.0, per["sockets"])
	assert.Equal(t, 1.0, per["sockets/tcp LISTEN"])
	assert.Equal(t, 1.0, per["goroutines"])

	cyc := rep.PerCycle()
	assert.Equal(t, 4.0, cyc["fds"], "the event loop stays")
	assert.Equal(t, 3.0, cyc["fds/eventfd"])
	assert.Equal(t, 1.0, cyc["fds/eventpoll"])
	assert.Equal(t, 0.0, cyc["sockets"], "the listener is closed")
	assert.Equal(t, 1.0, cyc["goroutines"])

	msg := ft.errorText()
	assert.Contains(t, msg, "leakcheck: 20 create/destroy cycles: per create: +5 fds (3 eventfd, 1 eventpoll, 1 socket), +1 goroutine; after destroy: retained per cycle: 4 fds (3 eventfd, 1 eventpoll), 1 goroutine")
	assert.Contains(t, msg, "eventfd (60):")
	assert.Regexp(t, `60 × eventfd \(count 0\)(, created at \S+ \S+:\d+)?: fds \d+, \d+, \d+, \d+, \d+, \d+, \d+, \d+, … and 52 more`, msg)
	assert.Contains(t, msg, "20 × github.com/leakcheck/go/leakcheck_test.(*forward).loop [chan receive]")
}

func TestCycleFixed(t *testing.T) {
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 20, func() func() { return newForward(t, true).Delete })
	require.NotNil(t, rep)
	assert.False(t, ft.Failed(), ft.errorText())
	assert.Equal(t, 5.0, rep.PerCreate()["fds"]+rep.PerCreate()["sockets"])
	assert.Empty(t, rep.PerCycle())
	assert.Contains(t, ft.logText(), "after destroy: nothing retained")
}

// A component with a lazily created global: the first create starts a
// worker and opens a state file that live for the rest of the process. The
// warm-up cycle absorbs them.
type lazyGlobal struct {
	once sync.Once
	stop chan struct{}
	file *os.File
}

func TestCycleLazySingletonPasses(t *testing.T) {
	dir := t.TempDir()
	var g lazyGlobal // the package-level variable of the code under test
	defer func() {
		if g.stop != nil {
			close(g.stop)
			g.file.Close()
		}
	}()
	ft := newFakeT(t, t.Name())
	rep := leakcheck.Cycle(ft, 10, func() func() {
		g.once.Do(func() {
			g.stop = make(chan struct{})
			go func() { <-g.stop }()
			f, err := os.Create(filepath.Join(dir, "state"))
			require.NoError(t, err)
			g.file = f
		})
		c1, c2 := net.Pipe()
		return func() { c1.Close(); c2.Close() }
	})
	require.NotNil(t, rep)
	assert.False(t, ft.Failed(), "one-time initialisation is not a per-cycle leak: %s", ft.errorText())
}

func TestCycleAllBulk(t *testing.T) {
	dir := t.TempDir()
	var files, leftOpen []*os.File
	defer func() {
		for _, f := range leftOpen {
			f.Close()
		}
	}()
	ft := newFakeT(t, t.Name())
	rep := leakcheck.CycleAll(ft, 8, func(n int) {
		for range n {
			f, err := os.CreateTemp(dir, "seg")
			require.NoError(t, err)
			files = append(files, f)
		}
	}, func() {
		// Bug: the bulk teardown removes the files but closes only half.
		for i, f := range files {
			os.Remove(f.Name())
			if i%2 == 0 {
				f.Close()
			} else {
				leftOpen = append(leftOpen, f)
			}
		}
		files = files[:0]
	}, leakcheck.WithTimeout(200*time.Millisecond))
	require.NotNil(t, rep)
	assert.True(t, ft.Failed())
	assert.Equal(t, 1.0, rep.PerCreate()["fds/file"])
	assert.Equal(t, 0.5, rep.PerCycle()["fds/deleted file"], "half of each cycle's files stay open, deleted")
	assert.Contains(t, ft.errorText(), "retained per cycle: 0.5 fds (0.5 deleted file)")
}

func TestCycleMisuse(t *testing.T) {
	ft := newFakeT(t, t.Name())
	assert.Nil(t, leakcheck.Cycle(ft, 0, func() func() { return func() {} }))
	assert.Contains(t, ft.errorText(), "Cycle(t, 0, …): create at least one object")
	ft = newFakeT(t, t.Name())
	assert.Nil(t, leakcheck.Cycle(ft, 3, nil))
	assert.Contains(t, ft.errorText(), "Cycle needs a create step and a destroy step")
	ft = newFakeT(t, t.Name())
	assert.Nil(t, leakcheck.Cycle(ft, 3, func() func() { return nil }))
	assert.Contains(t, ft.errorText(), "the create step returned a nil destroy function")
	_, err := leakcheck.FindCycle(2, nil, nil)
	assert.ErrorContains(t, err, "a cycle needs both a create and a destroy step")
}
