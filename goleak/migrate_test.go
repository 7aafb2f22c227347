package goleak_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A migrated package of testdata/migrate and what its tests must do under
// go.uber.org/goleak and under the drop-in.
type migrated struct {
	dir string
	// mainOnly packages use names of goleak's main branch (IgnoreCreatedBy,
	// RunOnFailure), which has no release: under goleak they are built
	// only when LEAKCHECK_GOLEAK_MAIN names a checkout of it.
	mainOnly       bool
	goleak, dropin outcome
}

// outcome is a package's verdict ("ok", "FAIL"), its tests' ("pass",
// "fail"), and text its output must hold.
type outcome struct {
	pkg    string
	tests  map[string]string
	output []string
}

// onLinux is the drop-in's verdict for a leak goleak cannot see: descriptors
// are checked on Linux only.
func onLinux(linux, elsewhere outcome) outcome {
	if runtime.GOOS == "linux" {
		return linux
	}
	return elsewhere
}

func migratedPackages() []migrated {
	workerTests := map[string]string{
		"TestPoolStopsWorkers":      "pass",
		"TestPoolWithoutStop":       "fail",
		"TestPoolIgnoreTopFunction": "pass",
		"TestPoolIgnoreAnyFunction": "pass",
		"TestPoolIgnoreCurrent":     "pass",
		"TestPoolSizes":             "fail",
		"TestPoolSizes/one":         "pass",
		"TestPoolSizes/four":        "pass",
		"TestPoolSizes/resized":     "fail",
	}
	storeClean := map[string]string{"TestStoreOpenClose": "pass", "TestStoreClosedInCleanup": "pass", "TestStoreRoll": "pass"}
	return []migrated{
		{dir: "worker",
			goleak: outcome{"FAIL", workerTests, []string{"found unexpected goroutines", "example.com/app/worker.(*Pool).work on top of the stack"}},
			dropin: outcome{"FAIL", workerTests, []string{
				"2 × example.com/app/worker.(*Pool).work [select], created by example.com/app/worker.(*Pool).add",
			}},
		},
		{dir: "store",
			// goleak sees no goroutine, so nothing.
			goleak: outcome{"ok", storeClean, nil},
			dropin: onLinux(outcome{"FAIL",
				map[string]string{"TestStoreOpenClose": "pass", "TestStoreClosedInCleanup": "fail", "TestStoreRoll": "fail"},
				[]string{"TestStoreClosedInCleanup", "/00000000.seg", "1 leaked after waiting"}},
				outcome{"ok", storeClean, nil}),
		},
		{dir: "mainverify",
			goleak: outcome{"ok", map[string]string{"TestSetGet": "pass", "TestExpired": "pass"}, nil},
			dropin: outcome{"ok", map[string]string{"TestSetGet": "pass", "TestExpired": "pass"}, nil},
		},
		{dir: "mainleak",
			goleak: outcome{"FAIL", map[string]string{"TestPublish": "pass"}, []string{"goleak: Errors on successful test run", "mainleak.(*Broker).deliver"}},
			dropin: outcome{"FAIL", map[string]string{"TestPublish": "pass"}, []string{
				"leakcheck: errors on successful test run:\nleakcheck: 1 leaked after waiting",
				"1 × example.com/app/mainleak.(*Broker).deliver [chan receive], created by example.com/app/mainleak.(*Broker).Subscribe",
			}},
		},
		{dir: "mainfind",
			goleak: outcome{"ok", map[string]string{"TestParse": "pass", "TestParseSkipsJunk": "pass"}, nil},
			dropin: onLinux(outcome{"FAIL", map[string]string{"TestParse": "pass", "TestParseSkipsJunk": "pass"}, []string{
				"leaks after the tests: leakcheck: 1 leaked after waiting",
				"  deleted file (1):\n      fd ", "-basic.conf (deleted)",
			}}, outcome{"ok", map[string]string{"TestParse": "pass", "TestParseSkipsJunk": "pass"}, nil}),
		},
		{dir: "maincurrent",
			goleak: outcome{"ok", map[string]string{"TestEcho": "pass"}, nil},
			dropin: outcome{"ok", map[string]string{"TestEcho": "pass"}, nil},
		},
		{dir: "createdby", mainOnly: true,
			goleak: outcome{"ok", map[string]string{"TestFlush": "pass", "TestFlushEvery": "pass"}, nil},
			dropin: outcome{"ok", map[string]string{"TestFlush": "pass", "TestFlushEvery": "pass"}, nil},
		},
		{dir: "runonfailure", mainOnly: true,
			// goleak's main branch prints "RunOnFailure can only be passed
			// to VerifyTestMain" here instead of the leak
			// (uber-go/goleak#132), so only the verdicts are compared.
			goleak: outcome{"FAIL", map[string]string{"TestRetrySucceeds": "pass", "TestRetryTimesOut": "fail"}, nil},
			dropin: outcome{"FAIL", map[string]string{"TestRetrySucceeds": "pass", "TestRetryTimesOut": "fail"}, []string{
				"Retry did not answer in time",
				"1 × example.com/app/runonfailure.retryLoop [chan send], created by example.com/app/runonfailure.Retry",
			}},
		},
	}
}

// TestMigrate proves that changing the import line is the whole migration:
// the goleak-style tests of testdata/migrate, with only
// "go.uber.org/goleak" changed to "github.com/leakcheck/go/goleak", vet and
// run against this checkout, offline, with the verdicts their leaks call
// for. The same files, unchanged, are vetted and run against
// go.uber.org/goleak v1.3.0 (and its main branch when LEAKCHECK_GOLEAK_MAIN
// names a checkout): they are written for goleak, and the verdicts differ
// only where a leak is not a goroutine.
func TestMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs eight packages twice; not with -short")
	}
	goCmd := goCommand(t)
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	pkgs := migratedPackages()

	t.Run("drop-in", func(t *testing.T) {
		rewritten := 0
		dir := copyFixtures(t, sum, func(path string, src []byte) []byte {
			out := bytes.ReplaceAll(src, []byte(`"go.uber.org/goleak"`), []byte(`"github.com/leakcheck/go/goleak"`))
			if !bytes.Equal(src, out) {
				rewritten++
				assert.Equal(t, 1, changedLines(src, out), "%s: only the import line changes", path)
			}
			return out
		})
		require.Equal(t, 9, rewritten, "the files that import goleak")
		writeGoMod(t, dir, "require github.com/leakcheck/go v0.0.0-00010101000000-000000000000\n\nreplace github.com/leakcheck/go => "+root+"\n")
		var patterns []string
		want := map[string]outcome{}
		for _, p := range pkgs {
			patterns = append(patterns, "./"+p.dir)
			want[p.dir] = p.dropin
		}
		runMigrated(t, goCmd, dir, patterns, want)
	})

	t.Run("goleak", func(t *testing.T) {
		dir := copyFixtures(t, sum, func(_ string, src []byte) []byte { return src })
		mod := "require go.uber.org/goleak v1.3.0\n"
		main := os.Getenv("LEAKCHECK_GOLEAK_MAIN")
		if main != "" {
			mod += "\nreplace go.uber.org/goleak => " + main + "\n"
		}
		writeGoMod(t, dir, mod)
		var patterns, skipped []string
		want := map[string]outcome{}
		for _, p := range pkgs {
			if p.mainOnly && main == "" {
				skipped = append(skipped, p.dir)
				continue
			}
			patterns = append(patterns, "./"+p.dir)
			want[p.dir] = p.goleak
		}
		if len(skipped) > 0 {
			t.Logf("not built against goleak v1.3.0, which lacks IgnoreCreatedBy and RunOnFailure: %s (set LEAKCHECK_GOLEAK_MAIN to a checkout of goleak's main branch to include them)", strings.Join(skipped, ", "))
		}
		runMigrated(t, goCmd, dir, patterns, want)
	})
}

// runMigrated vets and tests patterns in module dir and compares each
// package's verdicts with want.
func runMigrated(t *testing.T, goCmd, dir string, patterns []string, want map[string]outcome) {
	t.Helper()
	vet := goIn(dir, goCmd, append([]string{"vet"}, patterns...)...)
	out, err := vet.CombinedOutput()
	require.NoError(t, err, "go vet:\n%s", out)

	test := goIn(dir, goCmd, append([]string{"test", "-count=1", "-json"}, patterns...)...)
	out, err = test.Output()
	if _, ok := err.(*exec.ExitError); !ok {
		require.NoError(t, err, "go test: %s", stderrOf(err))
	}
	got := parseTestJSON(t, out)
	for pkg, w := range want {
		g := got["example.com/app/"+pkg]
		require.NotNil(t, g, "no result for %s in:\n%s", pkg, out)
		assert.Equal(t, w.pkg, g.pkg, "package %s:\n%s", pkg, g.text)
		assert.Equal(t, w.tests, g.tests, "tests of %s:\n%s", pkg, g.text)
		for _, s := range w.output {
			assert.Contains(t, g.text, s, "output of %s", pkg)
		}
	}
}

type result struct {
	pkg   string
	tests map[string]string
	text  string
}

// parseTestJSON reads go test -json's events into a result per package.
func parseTestJSON(t *testing.T, out []byte) map[string]*result {
	t.Helper()
	res := map[string]*result{}
	text := map[string]*strings.Builder{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var e struct{ Action, Package, Test, Output string }
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		r := res[e.Package]
		if r == nil {
			r = &result{tests: map[string]string{}}
			res[e.Package] = r
			text[e.Package] = &strings.Builder{}
		}
		switch e.Action {
		case "output":
			text[e.Package].WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test != "" {
				r.tests[e.Test] = e.Action
			} else if e.Action == "fail" {
				r.pkg = "FAIL"
			} else {
				r.pkg = "ok"
			}
		}
	}
	for p, r := range res {
		r.text = text[p].String()
	}
	return res
}

// copyFixtures copies testdata/migrate into a new module directory,
// passing each Go file through edit, and the checkout's go.sum along.
func copyFixtures(t *testing.T, sum []byte, edit func(path string, src []byte) []byte) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "migrate")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), edit(filepath.ToSlash(rel), b), 0o644)
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dst, "go.sum"), sum, 0o644))
	return dst
}

func writeGoMod(t *testing.T, dir, rest string) {
	t.Helper()
	mod := "module example.com/app\n\ngo 1.25.0\n\n" + rest
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
}

// changedLines counts the lines that differ between a and b, which have
// the same number of lines.
func changedLines(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	if len(al) != len(bl) {
		return -1
	}
	n := 0
	for i := range al {
		if !bytes.Equal(al[i], bl[i]) {
			n++
		}
	}
	return n
}

// goCommand is the go command of the toolchain running the test.
func goCommand(t *testing.T) string {
	t.Helper()
	if goroot := runtime.GOROOT(); goroot != "" {
		p := filepath.Join(goroot, "bin", "go")
		if runtime.GOOS == "windows" {
			p += ".exe"
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the migrated packages with")
	}
	return p
}

// goIn is a go command in dir that uses the module cache only, with this
// toolchain.
func goIn(dir, goCmd string, args ...string) *exec.Cmd {
	cmd := exec.Command(goCmd, args...)
	cmd.Dir = dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"GOFLAGS", "GOPROXY", "GOWORK", "GOTOOLCHAIN", "GOSUMDB", "GONOSUMDB", childRole}, k)
	})
	cmd.Env = append(cmd.Env, "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOSUMDB=off")
	return cmd
}
