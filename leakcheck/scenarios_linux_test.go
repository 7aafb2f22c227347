package leakcheck_test

import (
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/leakcheck"
)

// runChild re-executes the test binary in a role (see TestMain) and returns
// its combined output and exit code.
func runChild(t *testing.T, role string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LEAKCHECK_CHILD="+role, "GORACE=atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(out), code
}

func TestFirstNetworkUseInFreshProcess(t *testing.T) {
	out, code := runChild(t, "first-network-use")
	require.Equal(t, 0, code, out)
	assert.True(t, strings.HasPrefix(out, "leakcheck: no leaks in this process"),
		"the netpoller's eventpoll and eventfd are the runtime's, even when the test is the first network user: %s", out)
}

func TestSignalLoopIsNotALeak(t *testing.T) {
	out, code := runChild(t, "signal")
	require.Equal(t, 0, code, out)
	assert.True(t, strings.HasPrefix(out, "leakcheck: no leaks in this process"), out)
	assert.Contains(t, out, "1 runtime and testing goroutines", "the ignored goroutine is counted: %s", out)
}

// scenario makes a test run only as part of a child run that a test here
// starts and judges (LEAKCHECK_CHILD=scenarios).
func scenario(t *testing.T) {
	if os.Getenv("LEAKCHECK_CHILD") != "scenarios" {
		t.Skip("a scenario: runs in a child test binary started by a test that checks its outcome")
	}
}

var forever = make(chan struct{})

func TestScenarioParallel(t *testing.T) {
	scenario(t)
	t.Run("leaky", func(t *testing.T) {
		t.Parallel()
		leakcheck.Check(t, leakcheck.WithTimeout(500*time.Millisecond))
		go func() { <-forever }()
		f, err := os.CreateTemp(t.TempDir(), "leaked")
		require.NoError(t, err)
		_ = f // left open: process-wide, so only VerifyTestMain can attribute it
		time.Sleep(200 * time.Millisecond)
	})
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		leakcheck.Check(t, leakcheck.WithTimeout(500*time.Millisecond))
		done := make(chan struct{})
		go func() { time.Sleep(50 * time.Millisecond); close(done) }()
		time.Sleep(200 * time.Millisecond)
		<-done
	})
}

func TestParallelAttribution(t *testing.T) {
	out, code := runChild(t, "scenarios", "-test.run=^TestScenarioParallel$", "-test.v", "-test.parallel=2")
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, out, "--- PASS: TestScenarioParallel/clean", "a clean parallel test never fails because a sibling leaked:\n%s", out)
	assert.Contains(t, out, "--- FAIL: TestScenarioParallel/leaky", out)
	leaky := section(out, "=== NAME  TestScenarioParallel/leaky", "--- FAIL: TestScenarioParallel/leaky")
	assert.Contains(t, leaky, "goroutines (1):", "the leaky test's goroutine is attributed to it by label:\n%s", out)
	assert.Contains(t, leaky, "TestScenarioParallel.func1.1 [chan receive]")
	if originsHere(t) {
		// Where the file was created tells whose it is.
		assert.Contains(t, leaky, "fds (1):", "the leaked file is blamed on the test that opened it:\n%s", out)
		assert.Contains(t, leaky, "opened at leakcheck_test.TestScenarioParallel.func1 scenarios_linux_test.go:", out)
		assert.Contains(t, out, "threads not checked: overlapped TestScenarioParallel/", out)
	} else {
		assert.Contains(t, out, "fds, sockets, threads and processes not checked: overlapped TestScenarioParallel/")
		assert.NotContains(t, leaky, "fds (", "without origins the leaked file is not blamed on either parallel test")
	}
	// The package-level check sees the file (and the goroutine) the leaky
	// test left; the run already failed, so it does not add to the verdict.
	assert.Contains(t, out, "VerifyTestMain exit code 1")
}

// section returns the text of out between the last line starting with
// from and the next line starting with to.
func section(out, from, to string) string {
	i := strings.LastIndex(out, from)
	if i < 0 {
		return ""
	}
	rest := out[i:]
	if j := strings.Index(rest, to); j >= 0 {
		return rest[:j]
	}
	return rest
}

func TestScenarioLeakForTestMain(t *testing.T) {
	scenario(t)
	go func() { <-forever }()
	f, err := os.CreateTemp(t.TempDir(), "segment")
	require.NoError(t, err)
	require.NoError(t, os.Remove(f.Name()))
}

func TestVerifyTestMainCatchesLeaks(t *testing.T) {
	out, code := runChild(t, "scenarios", "-test.run=^TestScenarioLeakForTestMain$")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "PASS", "the test itself passed:\n%s", out)
	assert.Contains(t, out, "leakcheck: errors on successful test run:")
	assert.Contains(t, out, "goroutines (1):")
	assert.Contains(t, out, "TestScenarioLeakForTestMain.func1 [chan receive]")
	assert.Contains(t, out, "deleted file (1):")
	assert.Contains(t, out, "VerifyTestMain exit code 1")
}

func TestVerifyTestMainPassesCleanPackage(t *testing.T) {
	out, code := runChild(t, "scenarios", "-test.run=^TestScenarioParallel$/^clean$")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "VerifyTestMain exit code 0")
}

func TestScenarioArtifacts(t *testing.T) {
	scenario(t)
	leakcheck.Check(t, leakcheck.WithTimeout(100*time.Millisecond))
	go func() { <-forever }()
}

func TestArtifactsWithFlag(t *testing.T) {
	if flag.Lookup("test.artifacts") == nil {
		t.Skipf("this toolchain (%s) has no -test.artifacts flag (Go ≥ 1.26)", runtime.Version())
	}
	dir := t.TempDir()
	out, code := runChild(t, "scenarios", "-test.run=^TestScenarioArtifacts$", "-test.artifacts", "-test.outputdir="+dir)
	require.NotEqual(t, 0, code, out)
	var found string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "leakcheck.txt" {
			found = p
		}
		return nil
	})
	require.NotEmpty(t, found, "leakcheck.txt under %s; child said:\n%s", dir, out)
	b, err := os.ReadFile(found)
	require.NoError(t, err)
	assert.Contains(t, string(b), "goroutines (1):")
	assert.Contains(t, string(b), "== leaked goroutines, full stacks")
	assert.Contains(t, string(b), "== descriptors at the baseline")
}

func TestAttrInJSONOutput(t *testing.T) {
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioArtifacts$", "-test.v=test2json")
	assert.Regexp(t, `=== ATTR  TestScenarioArtifacts leakcheck 1 leaked after waiting \d+ms: 1 goroutine`, out)
}

func TestScenarioMixedParallel(t *testing.T) {
	scenario(t)
	baselineTaken, siblingHolds := make(chan struct{}), make(chan struct{})
	t.Run("unchecked", func(t *testing.T) {
		t.Parallel()
		// Takes a goroutine and a file after the checked sibling's
		// baseline, holds them past its verdict, then gives both back.
		<-baselineTaken
		stop := make(chan struct{})
		go func() { <-stop }()
		f, err := os.CreateTemp(t.TempDir(), "sibling")
		require.NoError(t, err)
		close(siblingHolds)
		time.Sleep(400 * time.Millisecond)
		close(stop)
		f.Close()
	})
	t.Run("checked", func(t *testing.T) {
		t.Parallel()
		leakcheck.Check(t, leakcheck.WithTimeout(100*time.Millisecond))
		close(baselineTaken)
		<-siblingHolds
	})
}

// A checked parallel test is not blamed for what an unchecked sibling holds.
func TestMixedParallelNotBlamed(t *testing.T) {
	out, code := runChild(t, "scenarios", "-test.run=^TestScenarioMixedParallel$", "-test.v", "-test.parallel=2")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "--- PASS: TestScenarioMixedParallel/checked", out)
	assert.Contains(t, out, "overlapped TestScenarioMixedParallel.func1 (t.Parallel)", out)
}

// TestScenarioParked: a test calls Check and then t.Parallel, so it waits
// while the serial tests run. The serial tests are not its overlap: a
// serial test that leaks a file is caught, and the parked test, clean, is
// not blamed for that file.
func TestScenarioParked(t *testing.T) {
	scenario(t)
	t.Run("parked", func(t *testing.T) {
		leakcheck.Check(t, leakcheck.WithTimeout(200*time.Millisecond))
		t.Parallel()
	})
	t.Run("serial-leaky", func(t *testing.T) {
		leakcheck.Check(t, leakcheck.WithTimeout(200*time.Millisecond))
		f, err := os.Open(os.Args[0])
		require.NoError(t, err)
		parkedLeak = f
	})
	t.Run("serial-clean", func(t *testing.T) {
		leakcheck.Check(t, leakcheck.WithTimeout(200*time.Millisecond))
	})
}

var parkedLeak *os.File

func TestParkedTestOverlapsNobody(t *testing.T) {
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioParked$", "-test.v")
	assert.Contains(t, out, "--- FAIL: TestScenarioParked/serial-leaky", out)
	leaky := section(out, "=== RUN   TestScenarioParked/serial-leaky", "--- FAIL: TestScenarioParked/serial-leaky")
	assert.Contains(t, leaky, "fds (1):", "the serial test's file is caught beside a parked test:\n%s", out)
	assert.Contains(t, leaky, "file "+os.Args[0], out)
	assert.Contains(t, out, "--- PASS: TestScenarioParked/parked", "the parked test is not blamed for the serial test's file:\n%s", out)
	assert.Contains(t, out, "--- PASS: TestScenarioParked/serial-clean", out)
	assert.NotContains(t, out, "not checked: overlapped", "no test overlapped another's body:\n%s", out)
}

// TestScenarioResumedTogether: two tests call Check, then t.Parallel, and
// resume together; the second leaks a file it keeps reachable.
func TestScenarioResumedTogether(t *testing.T) {
	scenario(t)
	t.Run("clean", func(t *testing.T) {
		leakcheck.Check(t, leakcheck.WithTimeout(300*time.Millisecond))
		t.Parallel()
		time.Sleep(20 * time.Millisecond)
	})
	t.Run("leaky", func(t *testing.T) {
		leakcheck.Check(t, leakcheck.WithTimeout(300*time.Millisecond))
		t.Parallel()
		f, err := os.Open(os.Args[0])
		require.NoError(t, err)
		resumedLeak = f
	})
}

var resumedLeak *os.File

// The leak of a test that resumed from t.Parallel beside another is not
// hidden as something "serial tests left": it is caught (by origin), or
// said to be unattributable.
func TestResumedTogetherNotHidden(t *testing.T) {
	out, _ := runChild(t, "scenarios", "-test.run=^TestScenarioResumedTogether$", "-test.v", "-test.parallel=2")
	assert.NotContains(t, out, "left by serial tests", "no serial test ran while they waited:\n%s", out)
	assert.Contains(t, out, "--- PASS: TestScenarioResumedTogether/clean", out)
	if originsHere(t) {
		assert.Contains(t, out, "--- FAIL: TestScenarioResumedTogether/leaky", out)
		assert.Contains(t, out, "file "+os.Args[0]+", opened at", out)
	} else {
		assert.Contains(t, out, "not checked: overlapped TestScenarioResumedTogether/", out)
	}
}
