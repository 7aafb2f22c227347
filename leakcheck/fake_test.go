package leakcheck_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakcheck/go/leakcheck"
)

// short keeps leaky cases quick: they wait out the whole timeout.
var short = leakcheck.WithTimeout(300 * time.Millisecond)

// fakeT stands in for a test so the checks' verdicts can be observed: it
// records errors, logs, attributes and cleanups, and hands everything else
// to the real test it wraps.
type fakeT struct {
	testing.TB
	name string

	mu       sync.Mutex
	errors   []string
	logs     []string
	attrs    map[string]string
	cleanups []func()
	failed   bool
}

func newFakeT(t testing.TB, name string) *fakeT {
	return &fakeT{TB: t, name: name, attrs: map[string]string{}}
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return f.name }
func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.failed = true
}

func (f *fakeT) Error(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprint(args...))
	f.failed = true
}

func (f *fakeT) Fail() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
}

func (f *fakeT) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Attr(key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attrs[key] = value
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// finish runs the registered cleanups, last registered first, as testing does.
func (f *fakeT) finish() {
	f.mu.Lock()
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (f *fakeT) errorText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errors, "\n")
}

func (f *fakeT) logText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.logs, "\n")
}

var (
	goroutineIDs = regexp.MustCompile(`goroutine \d+`)
	waited       = regexp.MustCompile(` after waiting [0-9.]+[µm]?s`)
	fdNums       = regexp.MustCompile(`fd \d+`)
)

// stable masks what changes from run to run in a report: goroutine IDs,
// descriptor numbers, how long it waited.
func stable(s string) string {
	s = goroutineIDs.ReplaceAllString(s, "goroutine N")
	s = waited.ReplaceAllString(s, " after waiting T")
	return fdNums.ReplaceAllString(s, "fd N")
}
