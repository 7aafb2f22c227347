package leakcheck_test

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/leakcheck/go/internal/gostack"
	"github.com/leakcheck/go/leakcheck"
)

// openAndDrop opens a file and drops every reference to it: only the
// *os.File finalizer will ever close it.
func openAndDrop(t *testing.T) {
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Fd()
}

// A file nobody closed, that only the garbage collector closes at the
// verdict's collection, is still a leak, and said to be one.
func TestClosedOnlyByTheCollector(t *testing.T) {
	ft := runCheck(t, func() { openAndDrop(t) }, short, leakcheck.WithResources(leakcheck.FDs))
	msg := ft.errorText()
	assert.Contains(t, msg, "fds (1):", msg)
	assert.Contains(t, msg, "file "+os.Args[0], msg)
	assert.Contains(t, msg, "closed only by the garbage collector: nothing called Close", msg)
}

// cache is the go-cache pattern: a janitor goroutine that runs until the
// cache becomes garbage, when a finalizer on the wrapper stops it.
type cache struct{ *cacheState }

type cacheState struct{ stop chan struct{} }

func newCache() *cache {
	st := &cacheState{stop: make(chan struct{})}
	go func() { // the janitor
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-st.stop:
				return
			}
		}
	}()
	c := &cache{st}
	runtime.SetFinalizer(c, func(c *cache) { close(c.stop) })
	return c
}

// A goroutine a finalizer stops when its owner becomes garbage is no leak.
func TestJanitorStoppedByAFinalizerIsClean(t *testing.T) {
	ft := runCheck(t, func() {
		c := newCache()
		_ = c
	}, short)
	assert.Empty(t, ft.errorText())
	if !strings.Contains(ft.attrs["leakcheck"], "goroutines stopped by a finalizer") {
		// Where the runtime proves leaks (Go 1.27), its collection runs
		// during the wait and the janitor is gone before the verdict.
		assert.True(t, gostackCanProve(), "counted, not hidden: %s", ft.attrs["leakcheck"])
	}
}

func gostackCanProve() bool { return gostack.CanProve() }
