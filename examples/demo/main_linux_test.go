package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemo runs the demo: every scenario must run and be caught (run
// returns an error otherwise), and the API gateway's report must read as
// the incident did: 26 eventfds and an eventpoll kept per forward.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out), "%s", out.String())
	assert.Len(t, regexp.MustCompile(`(?m)^== \d/5 `).FindAllString(out.String(), -1), 5, "a heading per incident")
	// Per create can include a connection still closing; what is retained
	// has settled.
	assert.Contains(t, out.String(), "after destroy: retained per cycle: 27 fds (26 eventfd, 1 eventpoll), 1 goroutine")
	t.Log(out.String())
}
