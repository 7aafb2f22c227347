package goleak_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A listener TestMain opens before VerifyTestMain(m, IgnoreCurrent()) is
// shared set-up, not a leak. goleak passes this too: it has no goroutine.
func TestVerifyTestMainIgnoreCurrentListener(t *testing.T) {
	out, code := runChild(t, "listener, IgnoreCurrent")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "exit code 0\n")
	assert.NotContains(t, out, "leakcheck:")
}

// Without IgnoreCurrent, the listener TestMain opened is reported: it was
// not there when the process started. goleak passes this run, because a
// listener without a goroutine is nothing it looks at.
func TestVerifyTestMainReportsListener(t *testing.T) {
	out, code := runChild(t, "listener")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "exit code 1\n")
	m := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)\n`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.Contains(t, out, "leakcheck: errors on successful test run:\nleakcheck: 1 leaked after waiting ")
	assert.NotContains(t, out, "one by one", "the drop-in does not re-run the tests, as goleak does not")
	assert.Regexp(t, `sockets \(1\):\n  tcp LISTEN \(1\):\n      fd \d+ tcp `+regexp.QuoteMeta(m[1])+` LISTEN`+origin+`\n`, out)
}
