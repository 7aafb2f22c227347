package gostack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/go1.*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		// Single blocks make smaller seeds the fuzzer mutates faster.
		for _, block := range strings.SplitAfter(string(b), "\n\n")[:4] {
			f.Add([]byte(block))
		}
	}
	f.Add([]byte(`goroutine 5 [select, 2 minutes labels:{"a": "b"}]:` + "\nmain.f()\n\t/src/f.go:1 +0x1\n"))
	f.Add([]byte(`goroutine 5 [select] {k: v, "q": "x"}:` + "\nmain.f(...)\n\t/src/f.go:1\n...3 frames elided...\ncreated by main.g in goroutine 1\n\t/src/g.go:2 +0x3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, err := ParseBytes(b)
		if err != nil {
			if gs != nil {
				t.Fatalf("goroutines returned with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "gostack: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		for _, g := range gs {
			checkWellFormed(t, g)
			// Every block parses back to itself.
			again, err := ParseBytes([]byte(g.Raw))
			if err != nil || len(again) != 1 {
				t.Fatalf("raw of goroutine %d does not parse back: %v\n%q", g.ID, err, g.Raw)
			}
			checkWellFormed(t, again[0])
			if again[0].ID != g.ID || again[0].State != g.State || len(again[0].Frames) != len(g.Frames) {
				t.Fatalf("raw parses to a different goroutine:\n%#v\n%#v", g, again[0])
			}
			_ = g.String()
			_ = g.Summary()
		}
	})
}

func checkWellFormed(t *testing.T, g Goroutine) {
	t.Helper()
	if g.State == "" {
		t.Fatalf("goroutine %d without state", g.ID)
	}
	if !strings.HasPrefix(g.Raw, "goroutine ") || strings.HasSuffix(g.Raw, "\n") {
		t.Fatalf("goroutine %d raw %q", g.ID, g.Raw)
	}
	for _, fr := range g.Frames {
		if fr.Func == "" || fr.CreatedBy || fr.Line < 0 {
			t.Fatalf("goroutine %d: bad frame %#v", g.ID, fr)
		}
	}
	if g.Creator.Func == "" && (g.CreatorID != 0 || g.Creator.File != "") {
		t.Fatalf("goroutine %d: creator ID or file without creator: %#v", g.ID, g.Creator)
	}
	if g.Creator.Func != "" && !g.Creator.CreatedBy {
		t.Fatalf("goroutine %d: creator frame not marked", g.ID)
	}
	if g.Elided < ElidedUnknown || g.Wait < 0 {
		t.Fatalf("goroutine %d: elided %d, wait %v", g.ID, g.Elided, g.Wait)
	}
}

func FuzzParseProfile(f *testing.F) {
	b, err := os.ReadFile("testdata/go1.26.pprof-debug1.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("goroutine profile: total 1\n1 @ 0x1 0x2\n# labels: {\"a\":\"b\"}\n#\t0x1\tmain.f+0x1\t/src/f.go:1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := ParseProfile(strings.NewReader(string(b)))
		if err != nil {
			if recs != nil {
				t.Fatal("records returned with an error")
			}
			return
		}
		for _, r := range recs {
			if r.Count <= 0 {
				t.Fatalf("record with count %d", r.Count)
			}
			for _, fr := range r.Frames {
				if fr.Func == "" {
					t.Fatalf("frame without function: %#v", r)
				}
			}
		}
	})
}

// FuzzDumperHeaders checks the allocation-free header scan on arbitrary
// text: it never panics, every block it yields starts with a header, and on
// text the parser reads it finds the goroutines the parser found whenever
// the blocks are separated by blank lines (as the runtime prints them).
func FuzzDumperHeaders(f *testing.F) {
	files, _ := filepath.Glob("testdata/go1.2[567]*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, block := range strings.SplitAfter(string(b), "\n\n")[:4] {
			f.Add([]byte(block))
		}
	}
	f.Add([]byte("goroutine 9 [chan receive (leaked) (scan), 1 minutes]:\nmain.f()\n\ngoroutine 10 [select] {k: \"(leaked)]\"}:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := dumperOf(b)
		var ids []uint64
		for h := range d.Headers() {
			if h.start > h.end || h.end > len(b) || !strings.HasPrefix(string(b[h.start:h.end]), "goroutine ") {
				t.Fatalf("bad block [%d:%d] of %d bytes", h.start, h.end, len(b))
			}
			ids = append(ids, h.ID)
		}
		text := string(b)
		gs, err := parseString(text)
		if err != nil || strings.Contains(text, "\r") {
			return
		}
		// The parser also starts a goroutine at a header line that follows
		// another block without a blank line; the runtime never prints that.
		for _, g := range gs {
			off := int(uintptr(unsafe.Pointer(unsafe.StringData(g.Raw))) - uintptr(unsafe.Pointer(unsafe.StringData(text))))
			if off != 0 && !strings.HasSuffix(text[:off], "\n\n") {
				return
			}
		}
		if len(ids) != len(gs) {
			t.Fatalf("scan found %d goroutines, the parser %d", len(ids), len(gs))
		}
		for i, g := range gs {
			if ids[i] != g.ID {
				t.Fatalf("goroutine %d: scan says ID %d, parser %d", i, ids[i], g.ID)
			}
		}
	})
}
