package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A short soak: 50 samples over a second, thresholds well above the noise
// of a clean child (a connection in flight at a sample) and well below a
// leak of one socket and one file every 20ms (about 50 a second).
var soak = []string{"--interval=20ms", "--duration=1s", "--max-slope", "sockets=5", "--max-growth", "fds=5,sockets=5"}

var (
	closeWaitItem = regexp.MustCompile(`fd \d+ tcp 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ CLOSE_WAIT`)
	deletedItem   = regexp.MustCompile(`fd \d+ file .*/leak-\d+ \(deleted\)`)
)

func TestWatchLeakyCommand(t *testing.T) {
	t.Setenv(childEnv, "leaky")
	dir := t.TempDir()
	jsonFile, svgFile := filepath.Join(dir, "w.json"), filepath.Join(dir, "w.svg")
	args := append(append([]string{}, soak...), "--json", jsonFile, "--svg", svgFile, "--", os.Args[0])
	status, out, _ := leakwatch(t, args...)
	require.Equal(t, exitGrowth, status, "a leaking command fails the watch")

	assert.Regexp(t, `(?m)^exceeded: sockets grew by \d+ \(\d+ → \d+\), more than --max-growth 5$`, out)
	assert.Regexp(t, `(?m)^exceeded: sockets/tcp CLOSE_WAIT grew [0-9.]+ per second .*more than --max-slope 5$`, out, "the category inherits its resource's threshold")
	assert.Regexp(t, `(?m)^exceeded: fds/deleted file grew by`, out)
	assert.Regexp(t, `(?m)^  tcp CLOSE_WAIT +\d+ +\d+ +\d+ +\+[0-9.]+ +\+[0-9.]+$`, out, "the summary table row")
	assert.Regexp(t, closeWaitItem, out, "the culprit socket, with its addresses")
	assert.Regexp(t, deletedItem, out, "the culprit file, by path")
	assert.Regexp(t, `leakcheck: \d+ leaked by pid \d+: \d+ fds, \d+ sockets`, out, "the library's report format")
	assert.Contains(t, out, "stopped by leakwatch", "the command is ended when --duration ends")

	var j struct {
		Schema string `json:"schema"`
		Series struct {
			Schema  string `json:"schema"`
			Samples []struct {
				Counts map[string]int `json:"counts"`
			} `json:"samples"`
		} `json:"series"`
		Exceeded []string `json:"exceeded"`
		Diff     struct {
			Counts map[string]int `json:"counts"`
		} `json:"diff"`
		Exit int `json:"exit_status"`
	}
	b, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &j))
	assert.Equal(t, "leakwatch.watch/v1", j.Schema)
	assert.Equal(t, "leakcheck.series/v1", j.Series.Schema)
	assert.Greater(t, len(j.Series.Samples), 20, "about 50 samples at 20ms over 1s")
	assert.Greater(t, j.Diff.Counts["sockets/tcp CLOSE_WAIT"], 10)
	assert.Equal(t, exitGrowth, j.Exit)
	assert.NotEmpty(t, j.Exceeded)

	svg, err := os.ReadFile(svgFile)
	require.NoError(t, err)
	var v any
	require.NoError(t, xml.Unmarshal(svg, &v), "the chart is well-formed")
	assert.Contains(t, string(svg), "sockets/tcp CLOSE_WAIT")
}

func TestWatchCleanCommand(t *testing.T) {
	t.Setenv(childEnv, "clean")
	status, out, _ := leakwatch(t, append(append([]string{}, soak...), "--", os.Args[0])...)
	require.Equal(t, exitOK, status, "the same work, closed, passes")
	assert.Contains(t, out, "ok: nothing exceeded --max-slope sockets=5, --max-growth fds=5,sockets=5")
	assert.NotRegexp(t, deletedItem, out)
	assert.NotRegexp(t, closeWaitItem, out)
}

// startChild starts the test binary as a child in role.
func startChild(t *testing.T, role string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestWatchPID(t *testing.T) {
	leaky := startChild(t, "leaky")
	pid := strconv.Itoa(leaky.Process.Pid)
	status, out, _ := leakwatch(t, "-p", pid, "--interval=20ms", "--duration=600ms", "--max-slope=5")
	require.Equal(t, exitGrowth, status)
	assert.Contains(t, out, "leakwatch: pid "+pid+" (")
	assert.Regexp(t, closeWaitItem, out)
	assert.NoError(t, leaky.Process.Signal(syscall.Signal(0)), "a process watched by -p is left running")

	clean := startChild(t, "clean")
	status, _, _ = leakwatch(t, "-p", strconv.Itoa(clean.Process.Pid), "--interval=20ms", "--duration=600ms", "--max-slope=sockets=5,fds=5")
	assert.Equal(t, exitOK, status)
}

func TestWatchUntilExit(t *testing.T) {
	t.Setenv(childEnv, "exit3")
	start := time.Now()
	status, out, _ := leakwatch(t, "--interval=20ms", "--max-growth=0", "--", os.Args[0])
	assert.Equal(t, exitOK, status, "the command's own status 3 is not leakwatch's")
	assert.Less(t, time.Since(start), 20*time.Second, "the watch ends when the command exits")
	assert.Contains(t, out, "until the process exited")
	assert.Regexp(t, `(?m)^leakwatch\.test \(pid \d+\) exited with status 3$`, out)
}

func TestWatchCannotRead(t *testing.T) {
	// pid_max is at most 2^22: this pid never exists.
	for _, args := range [][]string{
		{"-p", "4194305", "--duration=1s"},
		{"snapshot", "-p", "4194305"},
	} {
		status, out, errOut := leakwatch(t, args...)
		assert.Equal(t, exitUsage, status, args)
		assert.Equal(t, "leakwatch: pid 4194305: no such process\n", errOut, args)
		assert.Empty(t, out)
	}
	status, _, errOut := leakwatch(t, "--", filepath.Join(t.TempDir(), "no-such-command"))
	assert.Equal(t, exitUsage, status)
	assert.Contains(t, errOut, "leakwatch: starting ")
	assert.Contains(t, errOut, "no such file or directory")
}

func TestWatchPermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		status, _, errOut := leakwatch(t, "-p", "1", "--duration=1s")
		assert.Equal(t, exitUsage, status)
		assert.Contains(t, errOut, "leakwatch: pid 1: permission denied")
		return
	}
	// As root, run leakwatch as an unprivileged user against this process;
	// the go test build directory is private to root, so it runs a copy.
	dir, err := os.MkdirTemp("", "leakwatch-nobody-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "leakwatch")
	src, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, src, 0o755))
	cmd := exec.Command(bin, "-p", strconv.Itoa(os.Getpid()), "--duration=1s")
	cmd.Env = append(os.Environ(), runEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "leakwatch as uid 65534 should fail: %v\n%s", err, out)
	assert.Equal(t, exitUsage, ee.ExitCode(), "%s", out)
	assert.Contains(t, string(out), fmt.Sprintf("leakwatch: pid %d: permission denied", os.Getpid()))
}

// leakwatchProcess runs leakwatch as a process of its own, for what needs
// signals.
func leakwatchProcess(t *testing.T, child string, args ...string) (*exec.Cmd, *bufio.Scanner, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runEnv+"=1", childEnv+"="+child)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout), &stderr
}

func TestWatchInterrupted(t *testing.T) {
	cmd, lines, stderr := leakwatchProcess(t, "clean", "--interval=20ms", "--print-every=20ms", "--max-growth=sockets=5", "--", os.Args[0])
	require.True(t, lines.Scan(), "a progress line: %s", stderr)
	assert.Regexp(t, `^[0-9.]+s #\d+  fds \d+ \([+-]\d+\)  sockets \d+ \([+-]\d+\)  threads \d+ \([+-]\d+\)`, lines.Text())
	require.NoError(t, cmd.Process.Signal(os.Interrupt))

	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	err := cmd.Wait()
	require.NoError(t, err, "interrupted, a clean watch exits 0: %s\n%s", out.String(), stderr)
	assert.Contains(t, out.String(), "until interrupted")
	m := regexp.MustCompile(`(?m)^leakwatch\.test \(pid (\d+)\) stopped by leakwatch: signal: terminated$`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "the command is terminated after the last sample: %s", out.String())
	pid, _ := strconv.Atoi(m[1])
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the command was waited for")
}
