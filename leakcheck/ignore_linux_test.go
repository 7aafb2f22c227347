package leakcheck_test

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/fdsnap"
	"github.com/leakcheck/go/leakcheck"
	"github.com/leakcheck/go/sockstate"
)

func TestIgnores(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		leak   func(t *testing.T) (cleanup func())
		ignore leakcheck.Option
		reason string
	}{
		{"created by", func(t *testing.T) func() {
			r := make(chan struct{})
			startBlocked(r)
			return func() { close(r) }
		}, leakcheck.IgnoreCreatedBy("github.com/leakcheck/go/leakcheck_test.startBlocked"), "goleak's IgnoreCreatedBy: the go statement's function"},
		{"fd predicate", func(t *testing.T) func() {
			f, err := os.CreateTemp(dir, "cache-")
			require.NoError(t, err)
			return func() { f.Close() }
		}, leakcheck.IgnoreFD(func(fd fdsnap.FD) bool { return strings.Contains(fd.Path(), "/cache-") }), "a cache file the test means to keep"},
		{"socket predicate", func(t *testing.T) func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			return func() { ln.Close() }
		}, leakcheck.IgnoreSocket(func(s sockstate.Socket) bool { return s.State == sockstate.Listen }), "listeners a shared fixture owns"},
		{"tolerance", func(t *testing.T) func() {
			f, err := os.CreateTemp(dir, "one-")
			require.NoError(t, err)
			return func() { f.Close() }
		}, leakcheck.WithTolerance(leakcheck.FDs, 1), "one descriptor is tolerated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cleanup func()
			leaky := runCheck(t, func() { cleanup = tt.leak(t) }, short)
			cleanup()
			assert.True(t, leaky.Failed(), "without the ignore the leak is reported")
			ignored := runCheck(t, func() { cleanup = tt.leak(t) }, short, tt.ignore)
			cleanup()
			assert.False(t, ignored.Failed(), "%s: %s", tt.reason, ignored.errorText())
			if tt.name == "tolerance" {
				assert.Regexp(t, `^1 within the tolerance`, ignored.attrs["leakcheck"], "a tolerated item is shown, not called a leak")
			}
		})
	}
}
