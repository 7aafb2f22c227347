package heapdiff_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/heapdiff"
)

// retainer keeps objects allocated at one line, which it finds with
// runtime.Caller.
type retainer struct {
	kept       [][]byte
	file, fn   string
	line       int
	lineKnown  bool
	sizeOfEach int
}

func (r *retainer) keep(n, size int) {
	for range n {
		b := make([]byte, size)
		if !r.lineKnown {
			pc, file, line, _ := runtime.Caller(0)
			r.file, r.line, r.fn = file, line-2, runtime.FuncForPC(pc).Name()
			r.lineKnown = true
		}
		r.kept = append(r.kept, b)
	}
	r.sizeOfEach = size
}

// at sums what a profile holds from the retainer's allocation line.
func (r *retainer) at(p *heapdiff.Profile) (bytes, objects int64) {
	for _, rec := range p.Records {
		frames := runtime.CallersFrames(rec.Stack)
		for {
			f, more := frames.Next()
			if f.File == r.file && f.Line == r.line {
				bytes += rec.Bytes
				objects += rec.Objects
				break
			}
			if !more {
				break
			}
		}
	}
	return bytes, objects
}

func setRate(t *testing.T, rate int) {
	t.Helper()
	restore, err := heapdiff.SetRate(rate)
	require.NoError(t, err)
	t.Cleanup(restore)
}

// The profile is the heap as of the last completed collection: what was
// allocated since is not in it, and neither is what was dropped since.
func TestProfileAsOfLastGC(t *testing.T) {
	setRate(t, 1)
	var r retainer
	r.keep(100, 4096)
	at := func(step string) (int64, int64) {
		p, err := heapdiff.CaptureNow()
		require.NoError(t, err, step)
		return r.at(p)
	}

	b, o := at("allocated, no collection since")
	assert.Zero(t, o, "allocations since the last collection are not in the profile yet (%d B)", b)

	runtime.GC()
	b, o = at("one collection")
	assert.Equal(t, int64(100*4096), b)
	assert.Equal(t, int64(100), o)

	r.kept = nil
	_, o = at("dropped, no collection since")
	assert.Equal(t, int64(100), o, "frees show only once a collection has swept them")

	runtime.GC()
	_, o = at("dropped, one collection")
	assert.Zero(t, o)
}

// Objects allocated before the rate was raised were sampled at the old
// rate (one in ~128 of 4 KiB at the default 512 KiB), and their frees too:
// profiles taken after the raise count exactly only what was allocated
// after it, which is why a Window raises the rate before its first profile.
func TestRateRaisedMidRun(t *testing.T) {
	old := runtime.MemProfileRate
	var before retainer
	before.keep(1000, 4096)

	restore, err := heapdiff.SetRate(1)
	require.NoError(t, err)
	assert.Equal(t, 1, runtime.MemProfileRate)
	p0, err := heapdiff.Capture()
	require.NoError(t, err)
	b, _ := before.at(p0)
	assert.Less(t, b, int64(1000*4096)/4, "sampled at the old rate: a fraction shows")

	var after retainer
	after.keep(10, 4096)
	before.kept = nil
	p1, err := heapdiff.Capture()
	require.NoError(t, err)
	b, o := after.at(p1)
	assert.Equal(t, int64(10*4096), b, "every allocation since the raise")
	assert.Equal(t, int64(10), o)
	restore()
	assert.Equal(t, old, runtime.MemProfileRate, "restored")
	runtime.KeepAlive(after.kept)
}

func TestSetRate(t *testing.T) {
	old := runtime.MemProfileRate
	r1, err := heapdiff.SetRate(1)
	require.NoError(t, err)
	r2, err := heapdiff.SetRate(1)
	require.NoError(t, err, "the same rate is shared")
	_, err = heapdiff.SetRate(64)
	assert.ErrorContains(t, err, "already 1 for another measurement")
	r1()
	r1()
	assert.Equal(t, 1, runtime.MemProfileRate, "restoring twice releases once; the second holder keeps the rate")
	r2()
	assert.Equal(t, old, runtime.MemProfileRate, "the last holder restores")
	_, err = heapdiff.SetRate(0)
	assert.ErrorContains(t, err, "want a rate ≥ 1")
}

// Concurrent holders race on nothing: go test -race checks the guard.
func TestSetRateConcurrent(t *testing.T) {
	old := runtime.MemProfileRate
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				restore, err := heapdiff.SetRate(1)
				if err != nil {
					t.Error(err)
					return
				}
				restore()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, old, runtime.MemProfileRate)
}

func TestScale(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		bytes, objects         int64
		rate                   int
		wantBytes, wantObjects int64
	}{
		{"rate 1 records every allocation: counts as they are", 4096, 1, 1, 4096, 1},
		{"one 4 KiB sample at 512 KiB stands for 1/(1−exp(−4096/524288)) ≈ 128.5", 4096, 1, 512 << 10, 526_339, 129},
		{"objects far above the rate are always sampled", 64 << 20, 1, 512 << 10, 64 << 20, 1},
		{"nothing in use stays nothing", 0, 0, 512 << 10, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, o := heapdiff.Scale(tc.bytes, tc.objects, tc.rate)
			assert.Equal(t, tc.wantBytes, b)
			assert.Equal(t, tc.wantObjects, o)
		})
	}
}

// At a rate above 1 the counts are estimates, and scaled ones come close:
// 10 000 objects of 512 B at one sample per 4 KiB give ~1 175 samples
// (a standard deviation of 2.7%).
func TestScaledEstimate(t *testing.T) {
	setRate(t, 4096)
	p0, err := heapdiff.Capture()
	require.NoError(t, err)
	var r retainer
	r.keep(10_000, 512)
	p1, err := heapdiff.Capture()
	require.NoError(t, err)
	b0, o0 := r.at(p0)
	b1, o1 := r.at(p1)
	assert.InEpsilon(t, 10_000*512, b1-b0, 0.15)
	assert.InEpsilon(t, 10_000, o1-o0, 0.15)
	assert.Equal(t, 4096, p1.Rate)
}

// The two profiles a Window keeps are what go tool pprof reads: the
// difference of in-use space names the leaking function.
func TestPprofDiffBase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gotool); err != nil {
		t.Skipf("no go command: %v", err)
	}
	w, err := heapdiff.Begin(heapdiff.DefaultRate)
	require.NoError(t, err)
	var r retainer
	r.keep(200, 4096)
	d, err := w.End(nil)
	require.NoError(t, err)
	runtime.KeepAlive(r.kept)

	before, after, err := d.WriteProfiles(t.TempDir())
	require.NoError(t, err)
	out, err := exec.Command(gotool, "tool", "pprof", "-top", "-sample_index=inuse_space", "-diff_base", before, after).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("go tool pprof -top -diff_base:\n%s", out)
	var line string
	for l := range strings.Lines(string(out)) {
		if strings.Contains(l, r.fn) {
			line = l
			break
		}
	}
	require.NotEmpty(t, line, "the retaining function in:\n%s", out)
	flat, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	kb, err := strconv.ParseFloat(strings.TrimSuffix(flat, "kB"), 64)
	require.NoError(t, err, "flat column of %q", line)
	assert.GreaterOrEqual(t, kb, 800.0, "200 × 4 KiB (and the slice holding them), flat: %q", line)
}
