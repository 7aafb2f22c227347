package leakcheck

import (
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/leakcheck/go/internal/gostack"
)

// The user's code is what a report leads with: the first frame of a stack
// that belongs to the module under test (the test binary's main module),
// or, when a stack has none, the first outside the standard library, the
// runtime and leakcheck itself.

var mainModule = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" && bi.Main.Path != "command-line-arguments" {
		return bi.Main.Path
	}
	return ""
})

var goroot = sync.OnceValue(func() string {
	// The file of a standard-library function tells where GOROOT's
	// sources were when the binary was built (runtime.GOROOT is the
	// runtime's, not the build's).
	var pcs [1]uintptr
	if runtime.Callers(0, pcs[:]) == 1 { // runtime.Callers itself
		frame, _ := runtime.CallersFrames(pcs[:]).Next()
		if i := strings.LastIndex(frame.File, "/src/runtime/"); i >= 0 {
			return frame.File[:i+len("/src/")]
		}
	}
	return ""
})

// ownPackages are leakcheck's own, never the user's code.
var ownPackages = []string{
	"github.com/leakcheck/go/leakcheck.", "github.com/leakcheck/go/internal/",
	"github.com/leakcheck/go/fdsnap.", "github.com/leakcheck/go/sockstate.", "github.com/leakcheck/go/goleak.",
}

// packageOf returns the import path of a function's package:
// "net/http.(*Transport).dialConn" → "net/http".
func packageOf(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return fn
	}
	return fn[:slash+1+dot]
}

// isStd reports whether a frame is the standard library's or the runtime's.
func isStd(f gostack.Frame) bool {
	if root := goroot(); root != "" && strings.HasPrefix(f.File, root) {
		return true
	}
	pkg := packageOf(f.Func)
	first, _, _ := strings.Cut(pkg, "/")
	// Without GOROOT in the path (-trimpath), an import path whose first
	// element has no dot is the standard library's.
	return !filepath.IsAbs(f.File) && !strings.Contains(first, ".")
}

func isOwn(fn string) bool {
	for _, p := range ownPackages {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// inMainModule reports whether fn is in the module under test.
func inMainModule(fn string) bool {
	m := mainModule()
	if m == "" {
		return false
	}
	pkg := packageOf(fn)
	return (pkg == m || strings.HasPrefix(pkg, m+"/") || strings.HasPrefix(pkg, m+"_test")) && !isOwn(fn)
}

// userFrame returns the first frame of frames in the user's code, and
// whether there is one.
func userFrame(frames []gostack.Frame) (gostack.Frame, bool) {
	for _, f := range frames {
		if inMainModule(f.Func) {
			return f, true
		}
	}
	for _, f := range frames {
		if !isStd(f) && !isOwn(f.Func) && f.Func != "" {
			return f, true
		}
	}
	return gostack.Frame{}, false
}

// shortFile renders a source path for a report line: the file and its
// directory ("tcpforward/loop_linux.go"), enough to find it.
func shortFile(path string) string {
	dir, file := filepath.Split(path)
	return filepath.Join(filepath.Base(dir), file)
}
