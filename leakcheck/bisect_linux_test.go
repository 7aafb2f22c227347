package leakcheck_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildPackage builds the test binary of a package made from testdata
// files (name.go.txt → name.go) against this checkout, offline.
func buildPackage(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(src, "*.go.txt"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".txt")), b, 0o644))
	}
	gomod := "module example.com/pkg\n\ngo 1.25\n\nrequire github.com/leakcheck/go v0.0.0\n\nreplace github.com/leakcheck/go => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	bin := filepath.Join(dir, "pkg.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// VerifyTestMain finds a leak whose goroutine names no test: it runs the
// tests one by one and names the one that leaks alone, and no other.
func TestVerifyTestMainBisects(t *testing.T) {
	bin := buildPackage(t, "testdata/bisect")
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the package leaks")
	s := string(out)
	assert.Contains(t, s, "leakcheck: errors on successful test run:", s)
	assert.Contains(t, s, "the top-level tests run alone, one test binary each (3 of 3", s)
	assert.Contains(t, s, "leaks alone: TestB: 2 leaked", s)
	assert.NotContains(t, s, "leaks alone: TestA", s)
	assert.NotContains(t, s, "leaks alone: TestC", s)
}

// A leak TestMain itself holds leaks in every re-run: the bisection ends
// (each re-run, the listing too, checks without bisecting again) and says
// no test leaks alone.
func TestBisectEndsWhenTestMainLeaks(t *testing.T) {
	bin := buildPackage(t, "testdata/bisectmain")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the bisection must end:\n%s", out)
	require.Error(t, err, "the package leaks")
	s := string(out)
	assert.Contains(t, s, "(2 of 2 in", s)
	assert.Contains(t, s, "leaks alone: TestA", "run alone, each test binary holds TestMain's listener:\n%s", s)
	assert.Equal(t, 1, strings.Count(s, "the top-level tests run alone"), "no re-run bisects again:\n%s", s)
}
