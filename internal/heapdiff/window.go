package heapdiff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Window measures what happens to the heap between Begin and End, with
// profiles at both ends.
type Window struct {
	restore func()
	before  *Profile
	base    Sample
	done    bool
}

// Begin raises runtime.MemProfileRate to rate (SetRate), collects, captures
// the "before" profile, collects again (so the profile's own memory is in
// the baseline) and measures the baseline. Call End or Close.
func Begin(rate int) (*Window, error) {
	restore, err := SetRate(rate)
	if err != nil {
		return nil, err
	}
	w := &Window{restore: restore}
	w.before, err = Capture()
	if err != nil {
		restore()
		return nil, err
	}
	w.base = Measure()
	return w, nil
}

// End measures the live heap (Measure), captures the "after" profile,
// restores the profiling rate and returns the difference: exact totals
// from runtime/metrics, sites from the profiles (Diff with user).
func (w *Window) End(user func(runtime.Frame) bool) (*Delta, error) {
	if w.done {
		return nil, errors.New("heapdiff: Window.End after End or Close")
	}
	defer w.Close()
	now := Measure()
	after, err := capture()
	if err != nil {
		return nil, err
	}
	d := &Delta{Before: w.before, After: after}
	d.Bytes, d.Objects = now.Sub(w.base)
	d.Sites, err = Diff(w.before, after, user)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Close restores the profiling rate without measuring; after End it does
// nothing.
func (w *Window) Close() {
	w.done = true
	w.restore()
}

// Delta is what a Window found.
type Delta struct {
	Bytes, Objects int64  // live heap added between Begin and End (runtime/metrics, exact)
	Sites          []Site // allocation sites whose memory in use grew, most bytes first
	Before, After  *Profile
}

// WriteProfiles writes the two profiles into dir as heap-before.pb.gz and
// heap-after.pb.gz and returns their paths, for
//
//	go tool pprof -diff_base heap-before.pb.gz heap-after.pb.gz
func (d *Delta) WriteProfiles(dir string) (before, after string, err error) {
	before = filepath.Join(dir, "heap-before.pb.gz")
	after = filepath.Join(dir, "heap-after.pb.gz")
	if err := os.WriteFile(before, d.Before.Proto, 0o644); err != nil {
		return "", "", fmt.Errorf("heapdiff: %w", err)
	}
	if err := os.WriteFile(after, d.After.Proto, 0o644); err != nil {
		return "", "", fmt.Errorf("heapdiff: %w", err)
	}
	return before, after, nil
}
