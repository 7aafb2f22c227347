package goleak_test

import (
	"bytes"
	"encoding/json"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// masterOnly are the names goleak's main branch adds to v1.3.0 (commits
// 7452c70 "Add RunOnFailure option" and 3b3a1f5 "Add IgnoreCreatedBy"), with
// their signatures there. v1.3.0 is the newest release, so they are written
// down rather than loaded.
var masterOnly = map[string]string{
	"IgnoreCreatedBy": "func(f string) goleak.Option",
	"RunOnFailure":    "func() goleak.Option",
}

// TestAPI loads go.uber.org/goleak v1.3.0 and the drop-in from their
// compiled export data and compares their exported names: the same set
// (plus masterOnly), the same kinds, the same signatures, and
// interfaces with the same methods.
func TestAPI(t *testing.T) {
	theirs := loadPackage(t, "go.uber.org/goleak")
	ours := loadPackage(t, "github.com/leakcheck/go/goleak")

	names := slices.Sorted(slices.Values(exported(theirs)))
	for n := range masterOnly {
		names = append(names, n)
	}
	slices.Sort(names)
	assert.Equal(t, names, exported(ours), "the drop-in exports goleak's names, no more")

	for _, name := range exported(theirs) {
		t.Run(name, func(t *testing.T) {
			a, b := theirs.Scope().Lookup(name), ours.Scope().Lookup(name)
			require.NotNil(t, b, "the drop-in lacks %s", name)
			switch a := a.(type) {
			case *types.Func:
				bf, ok := b.(*types.Func)
				require.True(t, ok, "%s is a %T", name, b)
				assert.Equal(t, signature(a), signature(bf))
			case *types.TypeName:
				bt, ok := b.(*types.TypeName)
				require.True(t, ok, "%s is a %T", name, b)
				ai, aok := a.Type().Underlying().(*types.Interface)
				bi, bok := bt.Type().Underlying().(*types.Interface)
				require.True(t, aok && bok, "both are interfaces")
				if name == "Option" {
					// Sealed: an unexported method, of each package's own.
					assert.Zero(t, exportedMethods(ai))
					assert.Zero(t, exportedMethods(bi))
					return
				}
				assert.True(t, types.Identical(ai, bi), "goleak: %v, drop-in: %v", ai, bi)
			default:
				t.Fatalf("goleak exports %s, a %T, which this test does not compare", name, a)
			}
		})
	}
	for name, want := range masterOnly {
		f, ok := ours.Scope().Lookup(name).(*types.Func)
		require.True(t, ok, "the drop-in has func %s", name)
		assert.Equal(t, want, signature(f), name)
	}
}

func exported(p *types.Package) []string {
	var names []string
	for _, n := range p.Scope().Names() {
		if token.IsExported(n) {
			names = append(names, n)
		}
	}
	return names
}

func exportedMethods(i *types.Interface) int {
	n := 0
	for m := range i.Methods() {
		if m.Exported() {
			n++
		}
	}
	return n
}

// signature prints a function's type with both packages called goleak.
func signature(f *types.Func) string {
	return types.TypeString(f.Type(), func(p *types.Package) string { return p.Name() })
}

// loadPackage imports path from the export data the go command compiled.
func loadPackage(t *testing.T, path string) *types.Package {
	t.Helper()
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goCmd, "list", "-deps", "-export", "-json=ImportPath,Export", path)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderrOf(err))
	exports := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		exports[p.ImportPath] = p.Export
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	pkg, err := imp.Import(path)
	require.NoError(t, err)
	return pkg
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
