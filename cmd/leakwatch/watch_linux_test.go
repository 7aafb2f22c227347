package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
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

// steps is how long a watched child lives once ready: 30 steps of 20ms.
const steps = 30

// Synchronisation in these tests is by handshake, never by sleeping: a
// child listens on a port (--ready-port) or prints "ready" before it is
// watched, and a watched command that must end does so by itself
// ($LEAKWATCH_TEST_LIFE steps after it is ready), so the watch covers its
// whole life after start-up, and a leaky child leaks as much, however
// loaded the machine is.

var (
	closeWaitItem = regexp.MustCompile(`fd \d+ tcp 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ CLOSE_WAIT`)
	deletedItem   = regexp.MustCompile(`fd \d+ file .*/leak-\d+ \(deleted\)`)
)

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// watchChild runs leakwatch in this process on the test binary as a child
// in role, which takes life steps once ready and signals readiness on a port
// given to --ready-port. env adds variables for the child.
func watchChild(t *testing.T, role string, life int, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	port := freePort(t)
	setChild(t, role, port, life)
	for k, v := range env {
		t.Setenv(k, v)
	}
	args = append(append([]string{"--ready-port", port}, args...), "--", os.Args[0])
	return leakwatch(t, args...)
}

// setChild makes the test binary, when leakwatch starts it, a child in
// role that listens on port ("0": any) and takes life steps of 20ms once
// ready.
func setChild(t *testing.T, role, port string, life int) {
	t.Setenv(childEnv, role)
	t.Setenv(portEnv, port)
	t.Setenv(lifeEnv, strconv.Itoa(life))
	t.Setenv(dirEnv, t.TempDir())
}

// watchJSON is the part of the --json output tests read.
type watchJSON struct {
	Schema string `json:"schema"`
	Series struct {
		Schema  string `json:"schema"`
		Samples []struct {
			Counts map[string]int `json:"counts"`
		} `json:"samples"`
	} `json:"series"`
	Warmup struct {
		Until        string   `json:"until"`
		ReadySeconds *float64 `json:"ready_seconds"`
	} `json:"warmup"`
	DefaultMax *float64        `json:"default_max_slope"`
	Exceeded   []exceededEntry `json:"exceeded"`
	Diff       *struct {
		Base   string         `json:"base"`
		Counts map[string]int `json:"counts"`
	} `json:"diff"`
	Tree       *jsonTree `json:"tree"`
	TargetExit *fate     `json:"target_exit"`
	Exit       int       `json:"exit_status"`
}

func readWatchJSON(t *testing.T, path string) watchJSON {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var j watchJSON
	require.NoError(t, json.Unmarshal(b, &j), "%s", b)
	return j
}

func exceededFor(j watchJSON, category, measure string) (exceededEntry, bool) {
	for _, e := range j.Exceeded {
		if e.Category == category && e.Measure == measure {
			return e, true
		}
	}
	return exceededEntry{}, false
}

// With no threshold at all, a growing category fails the watch, judged as
// Soak judges: a Theil–Sen slope per sample after the warm-up over
// leakcheck.DefaultMaxSlope. The same work, closed, passes.
func TestWatchRedByDefault(t *testing.T) {
	t.Run("leaky", func(t *testing.T) {
		jsonFile := filepath.Join(t.TempDir(), "w.json")
		status, out, _ := watchChild(t, "leaky", steps, nil, "--interval=20ms", "--json", jsonFile)
		require.Equal(t, exitGrowth, status, "no threshold given: red by default")
		assert.Regexp(t, `(?m)^exceeded: sockets/tcp CLOSE_WAIT grew [0-9.]+ per sample \([0-9.]+ per second\), more than the default 0.05 per sample`, out)
		assert.Regexp(t, `(?m)^exceeded: fds/deleted file grew`, out)
		assert.Regexp(t, closeWaitItem, out, "the culprit socket, with its addresses")
		assert.Regexp(t, deletedItem, out, "the culprit file, by path")
		assert.Contains(t, out, "leakwatch.test (pid ")
		assert.Contains(t, out, ") exited with status 0\n", "the child ended by itself, after its life")
		assert.Contains(t, out, "leakwatch: exit status 1: growth over its threshold\n")

		j := readWatchJSON(t, jsonFile)
		assert.Equal(t, "leakwatch.watch/v3", j.Schema)
		e, ok := exceededFor(j, "sockets/tcp CLOSE_WAIT", "slope")
		require.True(t, ok, "%+v", j.Exceeded)
		assert.Equal(t, "slope", e.Measure)
		assert.Equal(t, "per sample", e.Unit)
		assert.Equal(t, "default", e.From)
		assert.Equal(t, 0.05, e.Limit)
		assert.Greater(t, e.Value, 0.05)
		require.NotNil(t, j.DefaultMax)
		assert.Equal(t, 0.05, *j.DefaultMax)
		assert.Equal(t, exitGrowth, j.Exit)
		require.NotNil(t, j.TargetExit)
		assert.False(t, j.TargetExit.Failed)
	})
	t.Run("clean", func(t *testing.T) {
		jsonFile := filepath.Join(t.TempDir(), "w.json")
		status, out, _ := watchChild(t, "clean", steps, nil, "--interval=20ms", "--json", jsonFile)
		require.Equal(t, exitOK, status, "the same work, closed, passes")
		assert.Contains(t, out, "ok: nothing exceeded the default slope, 0.05 per sample after the warm-up\n")
		j := readWatchJSON(t, jsonFile)
		assert.Empty(t, j.Exceeded)
		require.NotNil(t, j.Diff)
		// The last look may catch one step's connection and file in flight.
		assert.LessOrEqual(t, j.Diff.Counts["sockets/tcp CLOSE_WAIT"], 1, "%v", j.Diff.Counts)
		assert.LessOrEqual(t, j.Diff.Counts["fds/deleted file"], 1, "%v", j.Diff.Counts)
	})
	t.Run("report-only", func(t *testing.T) {
		status, out, _ := watchChild(t, "leaky", steps, nil, "--interval=20ms", "--report-only")
		require.Equal(t, exitOK, status, "--report-only: today's behaviour, a report and 0")
		assert.Contains(t, out, "--report-only: growth is shown, not judged\n")
		assert.Regexp(t, `(?m)^  tcp CLOSE_WAIT +\d+ +\d+ +\d+ +\+[0-9.]+ +\+[0-9.]+$`, out, "the growth is still shown")
		assert.NotContains(t, out, "exceeded:")
	})
}

// Thresholds given replace the default for the categories they cover.
func TestWatchThresholds(t *testing.T) {
	// Thresholds above the noise of a clean child (a connection in flight
	// at a sample) and well below a leak of one socket and one file per
	// step: 30 in all, about 50 a second (far fewer on a loaded machine).
	soak := []string{"--interval=20ms", "--max-slope", "sockets=1", "--max-growth", "fds=5,sockets=5"}
	dir := t.TempDir()
	jsonFile, svgFile := filepath.Join(dir, "w.json"), filepath.Join(dir, "w.svg")
	status, out, _ := watchChild(t, "leaky", steps, nil, append(soak, "--json", jsonFile, "--svg", svgFile)...)
	require.Equal(t, exitGrowth, status)
	assert.Regexp(t, `(?m)^exceeded: sockets grew by \d+ \(\d+ → \d+\), more than --max-growth 5$`, out)
	assert.Regexp(t, `(?m)^exceeded: sockets/tcp CLOSE_WAIT grew [0-9.]+ per second .*more than --max-slope 1$`, out, "the category inherits its resource's threshold")
	assert.Regexp(t, `(?m)^exceeded: fds/deleted file grew by`, out)
	assert.Regexp(t, `(?m)^  tcp CLOSE_WAIT +\d+ +\d+ +\d+ +\+[0-9.]+ +\+[0-9.]+$`, out, "the summary table row")
	assert.Regexp(t, `leakcheck: \d+ leaked by pid \d+: \d+ fds, \d+ sockets`, out, "the library's report format")

	j := readWatchJSON(t, jsonFile)
	assert.Equal(t, "leakcheck.series/v1", j.Series.Schema)
	assert.Greater(t, len(j.Series.Samples), 10)
	assert.Greater(t, j.Diff.Counts["sockets/tcp CLOSE_WAIT"], 5)
	e, ok := exceededFor(j, "sockets/tcp CLOSE_WAIT", "slope")
	require.True(t, ok)
	assert.Equal(t, exceededEntry{Category: "sockets/tcp CLOSE_WAIT", Measure: "slope", Value: e.Value, Limit: 1, Unit: "per second", From: "--max-slope"}, e)
	require.NotNil(t, j.DefaultMax, "fds and sockets are covered by thresholds, threads are the runtime's, but processes keep the default")
	assert.Equal(t, 0.05, *j.DefaultMax)

	svg, err := os.ReadFile(svgFile)
	require.NoError(t, err)
	var v any
	require.NoError(t, xml.Unmarshal(svg, &v), "the chart is well-formed")
	assert.Contains(t, string(svg), "sockets/tcp CLOSE_WAIT")

	status, out, _ = watchChild(t, "clean", steps, nil, soak...)
	require.Equal(t, exitOK, status)
	assert.Contains(t, out, "ok: nothing exceeded --max-slope sockets=1, --max-growth fds=5,sockets=5, nor the default slope for the other categories, 0.05 per sample after the warm-up\n")
	assert.Regexp(t, `(?m)^processes +0 +0 +0 +0\.000 +0\.00$`, out, "the child starts no process: the category is shown, flat")
}

// startChild starts the test binary as a child in role and returns once
// it has said it is ready.
func startChild(t *testing.T, role string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, portEnv+"=0", dirEnv+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the child's ready line")
	require.Equal(t, "ready\n", line)
	return cmd
}

// A -p target is watched in step with the test: the target, driven over
// stdin, takes one step (a leak, or the same work closed) per progress
// line, that is per sample, so the growth per sample is the same however
// loaded the machine is; then a Ctrl-C ends the watch.
func TestWatchPID(t *testing.T) {
	for _, tc := range []struct {
		step   string
		status int
	}{{"leak", exitGrowth}, {"clean", exitOK}} {
		t.Run(tc.step, func(t *testing.T) {
			pid, step := cyclesChild(t)
			cmd, lines, stderr := leakwatchProcess(t, nil, "-p", pid, "--interval=20ms", "--print-every=1ms")
			for range 30 {
				require.True(t, lines.Scan(), "a progress line: %s", stderr)
				require.Regexp(t, `^[0-9.]+s #\d+  fds `, lines.Text())
				step(tc.step, 1)
			}
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			var out strings.Builder
			for lines.Scan() {
				out.WriteString(lines.Text() + "\n")
			}
			var ee *exec.ExitError
			if err := cmd.Wait(); err != nil {
				require.ErrorAs(t, err, &ee)
			}
			t.Logf("%s", out.String())
			require.Equal(t, tc.status, cmd.ProcessState.ExitCode(), "red by default: %s", stderr)
			assert.Contains(t, out.String(), "leakwatch: pid "+pid+" (leakwatch.test)")
			assert.Contains(t, out.String(), "until interrupted")
			assert.NotContains(t, out.String(), "exited with", "a -p target's exit status is not leakwatch's to see")
			p, _ := strconv.Atoi(pid)
			assert.NoError(t, syscall.Kill(p, 0), "a process watched by -p is left running")
			if tc.step == "leak" {
				assert.Regexp(t, `(?m)^exceeded: sockets/tcp CLOSE_WAIT grew`, out.String())
				assert.Regexp(t, closeWaitItem, out.String())
			}
		})
	}
}

// The target's fate is part of the result: a command that crashes or exits
// non-zero fails the watch with exitTarget, whatever the thresholds say,
// unless --ignore-exit; one that ends as asked does not.
func TestWatchTargetFate(t *testing.T) {
	sh := func(script string) []string { return []string{"--", "sh", "-c", script} }
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		fate   string // a regexp for the fate line
		failed bool
	}{
		{"a crash", sh("sleep 0.2; kill -SEGV $$"), exitTarget, `^sh \(pid \d+\) crashed: signal SIGSEGV \(segmentation fault\)$`, true},
		{"a crash, ignored", append([]string{"--ignore-exit"}, sh("sleep 0.2; kill -SEGV $$")...), exitOK, `^sh \(pid \d+\) crashed: signal SIGSEGV`, true},
		{"exit 1 with a generous threshold", append([]string{"--max-slope=100"}, sh("sleep 0.2; exit 1")...), exitTarget, `^sh \(pid \d+\) exited with status 1$`, true},
		{"exit 0", sh("sleep 0.2; exit 0"), exitOK, `^sh \(pid \d+\) exited with status 0$`, false},
		{"stopped at --duration", append([]string{"--duration=300ms"}, sh("sleep 30")...), exitOK, `^sh \(pid \d+\) stopped by leakwatch: signal SIGTERM \(terminated\)$`, false},
		// These two are interrupted once the trap is set: "trapped" is the
		// handshake.
		// They wait in a loop of their own, not in sleep: a child that
		// comes and goes between two samples would be growth of the
		// processes category, which these cases are not about.
		{"status 143 after SIGTERM, as the JVM exits", sh(`trap "exit 143" TERM; echo trapped; while :; do :; done`),
			exitOK, `^sh \(pid \d+\) stopped by leakwatch: SIGTERM, exited with status 143$`, false},
		{"status 1 after SIGTERM: a failed shutdown", sh(`trap "exit 1" TERM; echo trapped; while :; do :; done`),
			exitTarget, `^sh \(pid \d+\) exited with status 1 after leakwatch's SIGTERM$`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jsonFile := filepath.Join(t.TempDir(), "w.json")
			args := append([]string{"--interval=20ms", "--json", jsonFile}, tc.args...)
			var status int
			var out string
			if strings.Contains(strings.Join(tc.args, " "), "echo trapped") {
				status, out = watchUntil(t, "trapped", nil, args...)
			} else {
				status, out, _ = leakwatch(t, args...)
			}
			assert.Equal(t, tc.status, status)
			assert.Regexp(t, "(?m)"+tc.fate, out)
			j := readWatchJSON(t, jsonFile)
			require.NotNil(t, j.TargetExit)
			assert.Equal(t, tc.failed, j.TargetExit.Failed)
			assert.Equal(t, tc.status, j.Exit)
			if strings.Contains(tc.fate, "SIGSEGV") {
				assert.Equal(t, "SIGSEGV", j.TargetExit.Signal)
				assert.Nil(t, j.TargetExit.ExitCode)
			}
		})
	}
	t.Run("a Go child's own status", func(t *testing.T) {
		status, out, _ := watchChild(t, "exit3", steps, nil, "--interval=20ms")
		assert.Equal(t, exitTarget, status)
		assert.Regexp(t, `(?m)^leakwatch\.test \(pid \d+\) exited with status 3$`, out)
		assert.Contains(t, out, "leakwatch: exit status 3: the target failed; --ignore-exit to judge growth only\n")
	})
	t.Run("-p takes no --ignore-exit", func(t *testing.T) {
		status, _, errOut := leakwatch(t, "-p", strconv.Itoa(os.Getpid()), "--ignore-exit")
		assert.Equal(t, exitUsage, status)
		assert.Contains(t, errOut, "--ignore-exit is for a command")
	})
}

// A command that exits at once is reported the same way every time:
// whether leakwatch's first look comes before or after the exit, the
// status is the command's fate and the report reads alike.
func TestWatchExitsAtOnce(t *testing.T) {
	normal := regexp.MustCompile(`pid \d+|after [0-9.]+[µnm]?s`)
	for _, tc := range []struct {
		command string
		status  int
	}{{"false", exitTarget}, {"true", exitOK}} {
		t.Run(tc.command, func(t *testing.T) {
			var first string
			for i := range 20 {
				var out, errOut syncBuffer
				status := run([]string{"--interval=20ms", "--", tc.command}, &out, &errOut)
				require.Equal(t, tc.status, status, "run %d: %s%s", i, out.String(), errOut.String())
				require.Empty(t, errOut.String(), "run %d: no error, whether the first look came before the exit or after", i)
				// The fate and the verdict read the same every time. (On a
				// loaded machine the command may live long enough for a
				// few samples, and a table.)
				lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
				require.GreaterOrEqual(t, len(lines), 2)
				// "leakwatch: exit status 3: the target failed; …"
				_, verdict, _ := strings.Cut(lines[len(lines)-1], ": ")
				verdict, _, _ = strings.Cut(verdict, ":")
				got := normal.ReplaceAllString(lines[len(lines)-2], "…") + "\n" + verdict
				if i == 0 {
					first = got
					t.Logf("%s", out.String())
				}
				require.Equal(t, first, got, "run %d reads differently", i)
				if n := len(lines); n == 3 {
					assert.Regexp(t, `^leakwatch: pid \d+ \(`+tc.command+`\): the process exited before a second sample, after \S+: nothing to judge$`, lines[0])
				}
			}
			assert.Equal(t, fmt.Sprintf("%s (…) exited with status %d\nexit status %d", tc.command, map[string]int{"false": 1, "true": 0}[tc.command], tc.status), first)
		})
	}
}

// Start-up is not growth: the final diff compares with the first snapshot
// after the warm-up (or after readiness), so a pool the target fills while
// it starts (the startup-N files) is never blamed.
func TestWatchStartupIsNotGrowth(t *testing.T) {
	startup := map[string]string{startupEnv: "20"}
	t.Run("ready-port", func(t *testing.T) {
		status, out, _ := watchChild(t, "clean", steps, startup, "--interval=20ms")
		require.Equal(t, exitOK, status)
		assert.Regexp(t, `(?m)^new at .+ since \S+, sample \d+ \(the first full snapshot once ready: listening on port \d+\):$`, out)
		assert.Regexp(t, `; warm-up until ready at \S+ \(listening on port \d+, \d+ samples?\)\n`, out)
		assert.NotContains(t, out, "startup-", "the start-up pool is before the base")

		status, out, _ = watchChild(t, "leaky", steps, startup, "--interval=20ms")
		require.Equal(t, exitGrowth, status, "a leak after readiness is caught")
		assert.Regexp(t, deletedItem, out)
		assert.NotContains(t, out, "startup-")
	})
	t.Run("warm-up share, until the process exits", func(t *testing.T) {
		// No --duration: the warm-up is a share of however many samples
		// the watch ends with. The child starts up (its pool of ten files
		// fills in about 50ms) and then lives six times as long as its
		// start-up took: half of the samples cover the start-up even when
		// a loaded machine samples unevenly.
		setChild(t, "idle", "0", steps)
		t.Setenv(ageEnv, "6")
		t.Setenv(startupEnv, "10")
		status, out, _ := leakwatch(t, "--interval=20ms", "--warmup=0.5", "--", os.Args[0])
		require.Equal(t, exitOK, status)
		assert.Contains(t, out, "until the process exited; warm-up 50% (")
		// The base is the first snapshot after the warm-up, or in a long
		// watch one of the few kept just after it.
		assert.Regexp(t, `(?m)^new at .+ since \S+, sample \d+ \((the first full snapshot after the warm-up of \d+ samples|a full snapshot \d+ samples? after the warm-up of \d+ ended: .*)\):$`, out)
		assert.NotContains(t, out, "startup-")

		// The other direction: with no warm-up the pool is in the diff.
		status, out, _ = leakwatch(t, "--interval=20ms", "--warmup=0", "--report-only", "--", os.Args[0])
		require.Equal(t, exitOK, status)
		assert.Regexp(t, `fd \d+ file .*/startup-\d+`, out, "from the first sample on, start-up shows")
	})
	t.Run("ready-after", func(t *testing.T) {
		setChild(t, "leaky", "0", steps)
		status, out, _ := leakwatch(t, "--interval=20ms", "--ready-after=100ms", "--", os.Args[0])
		require.Equal(t, exitGrowth, status)
		assert.Regexp(t, `warm-up until ready at \S+ \(--ready-after 100ms, \d+ samples?\)`, out)
		assert.Contains(t, out, "(the first full snapshot once ready: --ready-after 100ms):")
	})
	t.Run("never ready", func(t *testing.T) {
		setChild(t, "idle", "0", 3000) // it listens, but not on the port asked for
		status, out, _ := leakwatch(t, "--interval=20ms", "--duration=500ms", "--ready-port", freePort(t), "--", os.Args[0])
		assert.Equal(t, exitNotReady, status)
		assert.Contains(t, out, "not judged: the target never became ready\n")
		assert.Contains(t, out, "leakwatch: exit status 4: the target never became ready (--ready-port ")
	})
}

// Output paths are checked before the watch starts: a bad one fails at
// once, and the command is never started.
func TestWatchOutputPathsFirst(t *testing.T) {
	dir := t.TempDir()
	setChild(t, "idle", "0", 10)
	for _, tc := range []struct {
		name, flag, path, want string
	}{
		{"no such directory", "--json", filepath.Join(dir, "missing", "w.json"), "--json: open " + filepath.Join(dir, "missing", "w.json") + ": no such file or directory"},
		{"a directory", "--svg", dir, "--svg " + dir + ": a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "started")
			t.Setenv(markerEnv, marker)
			start := time.Now()
			status, out, errOut := leakwatch(t, "--interval=20ms", tc.flag, tc.path, "--", os.Args[0])
			assert.Equal(t, exitUsage, status)
			assert.Contains(t, errOut, tc.want)
			assert.Contains(t, errOut, "(checked before watching)")
			assert.Empty(t, out)
			assert.NoFileExists(t, marker, "the command was never started")
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
	t.Run("writable", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "started")
		jsonFile := filepath.Join(dir, "w.json")
		setChild(t, "idle", "0", 10)
		t.Setenv(markerEnv, marker)
		// Growth is not the point here, nor readiness: --report-only.
		status, _, _ := leakwatch(t, "--interval=20ms", "--report-only", "--json", jsonFile, "--", os.Args[0])
		assert.Equal(t, exitOK, status)
		assert.FileExists(t, marker)
		assert.Equal(t, exitOK, readWatchJSON(t, jsonFile).Exit)
	})
	t.Run("a failed watch leaves no empty file", func(t *testing.T) {
		jsonFile := filepath.Join(dir, "never.json")
		status, _, _ := leakwatch(t, "-p", "4194305", "--json", jsonFile)
		assert.Equal(t, exitUsage, status)
		assert.NoFileExists(t, jsonFile)
	})
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
func leakwatchProcess(t *testing.T, env []string, args ...string) (*exec.Cmd, *bufio.Scanner, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), runEnv+"=1"), env...)
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

// watchUntil runs leakwatch as a process of its own with args, waits for
// the watched command to print line (its output comes through leakwatch's
// standard error), interrupts leakwatch as a Ctrl-C would, and returns
// leakwatch's exit status and standard output.
func watchUntil(t *testing.T, line string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), runEnv+"=1"), env...)
	var stdout syncBuffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	seen := false
	for !seen && lines.Scan() {
		seen = lines.Text() == line
		t.Log(lines.Text())
	}
	require.True(t, seen, "the command never printed %q: %s", line, stdout.String())
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	for lines.Scan() { // to the end: leakwatch waits for the command, then exits
		t.Log(lines.Text())
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	t.Logf("leakwatch %q → %d\n%s", args, cmd.ProcessState.ExitCode(), stdout.String())
	return cmd.ProcessState.ExitCode(), stdout.String()
}

func TestWatchInterrupted(t *testing.T) {
	port := freePort(t)
	cmd, lines, stderr := leakwatchProcess(t, []string{childEnv + "=idle", portEnv + "=" + port, dirEnv + "=" + t.TempDir()},
		"--interval=20ms", "--print-every=20ms", "--ready-port", port, "--", os.Args[0])
	// Interrupt once the progress shows the listener (the child is ready)
	// and ten samples since: enough for a slope.
	progress := regexp.MustCompile(`^[0-9.]+s #(\d+)  fds \d+ \([+-]\d+\)  sockets (\d+) \([+-]\d+\)  threads \d+ \([+-]\d+\)`)
	ready := -1
	for {
		require.True(t, lines.Scan(), "a progress line: %s", stderr)
		m := progress.FindStringSubmatch(lines.Text())
		require.NotNil(t, m, "a progress line: %q", lines.Text())
		sample, _ := strconv.Atoi(m[1])
		if ready < 0 && m[2] != "0" {
			ready = sample
		}
		if ready >= 0 && sample >= ready+10 {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))

	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	err := cmd.Wait()
	require.NoError(t, err, "interrupted, a watch of an idle child exits 0: %s\n%s", out.String(), stderr)
	assert.Contains(t, out.String(), "until interrupted")
	m := regexp.MustCompile(`(?m)^leakwatch\.test \(pid (\d+)\) stopped by leakwatch: signal SIGTERM \(terminated\)$`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "the command is terminated after the last sample: %s", out.String())
	pid, _ := strconv.Atoi(m[1])
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the command was waited for")
}
