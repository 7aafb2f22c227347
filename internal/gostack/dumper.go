package gostack

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"iter"
	"runtime"
	"slices"
	"strings"
)

// A Dumper takes full goroutine dumps (runtime.Stack with all=true) into one
// buffer that it keeps from one look to the next, and reads them lazily: the
// goroutine IDs come from a scan of the header lines that allocates nothing,
// and only the goroutines a caller selects are parsed, out of a copy of just
// their text.
//
// It is the exact-identity source for any goroutine count. A look costs what
// the dump costs (the runtime prints every goroutine with the world stopped;
// see BenchmarkScale for figures by goroutine count and stack depth) and, once
// the buffer has grown to fit, no garbage: a settle loop that polls with the
// garbage collector paused holds one dump's worth of memory, however many
// times it looks. All, by contrast, allocates a new dump and a parse of every
// goroutine on each call.
//
// The zero value is ready to use. A Dumper is not safe for concurrent use.
type Dumper struct {
	buf  []byte // the last dump is buf[:n]
	n    int
	perG int // bytes per goroutine in the last dump, for sizing the next

	// NewSince's goroutines of the last call, by ID, with the hash of their
	// text, so an unchanged goroutine is not parsed again; prev and next
	// swap on each call.
	seed       maphash.Seed
	prev, next map[uint64]parsedBlock
}

type parsedBlock struct {
	hash uint64
	g    Goroutine
}

// minPerG is the first guess at bytes per goroutine: parked goroutines of a
// test binary print 300 to 1000 bytes each, deep ones far more.
const minPerG = 1024

// Take replaces the held dump with a new one of every goroutine, the
// caller's included. It returns the dump's size in bytes.
//
// Each try of runtime.Stack is a whole stop-the-world dump, so the buffer is
// sized to fit at the first: from the goroutine count and the bytes per
// goroutine of the previous look; a new buffer gets a quarter to spare, and
// a buffer that still fits the estimate is kept. When it is too
// small anyway (the first look, or stacks that grew), the retry is sized
// from how many goroutines did fit. A buffer more than twice the size the
// dump needs (the first guess for shallow stacks, or a crowd since gone) is
// replaced by a right-sized copy, so between looks a Dumper holds at most
// 2.5 times, and after a steady look 1.25 times, its last dump.
func (d *Dumper) Take() int {
	d.buf, d.n = takeStack(d.buf, d.perG)
	if keep := d.n + d.n/4; cap(d.buf) > 2*keep {
		small := make([]byte, keep)
		copy(small, d.buf[:d.n])
		d.buf = small
	}
	if g := runtime.NumGoroutine(); g > 0 {
		d.perG = d.n/g + 1
	}
	return d.n
}

// takeStack writes runtime.Stack(all=true) into buf, replacing buf with a
// larger one when it does not fit, and returns the buffer and the length of
// the dump.
func takeStack(buf []byte, perG int) ([]byte, int) {
	// A buffer that fits the estimate is kept; a new one gets a quarter more.
	if perG <= 0 {
		perG = minPerG
	}
	if need := runtime.NumGoroutine() * perG; cap(buf) < need {
		buf = nil // let the old buffer go before the new one is allocated
		buf = make([]byte, need+need/4)
	}
	buf = buf[:cap(buf)]
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf, n
		}
		size := len(buf) * 2
		if fit := bytes.Count(buf, blockSeparator) + 1; fit > 1 {
			est := len(buf) / fit * runtime.NumGoroutine()
			size = max(est+est/4, len(buf)+len(buf)/4)
		}
		buf = nil
		buf = make([]byte, size)
	}
}

// Size returns the number of bytes of the held dump; 0 before Take.
func (d *Dumper) Size() int { return d.n }

// Cap returns the size of the buffer the Dumper holds: its memory.
func (d *Dumper) Cap() int { return cap(d.buf) }

// A Header is what the scan of a dump reads of one goroutine, from its
// header line alone.
type Header struct {
	ID     uint64
	Leaked bool // " (leaked)": proven leaked by the last leak-detecting GC (see DetectLeaks)

	start, end int // the goroutine's block in the dump
}

// Headers yields the header of every goroutine of the held dump, in the
// order printed (the caller of Take first). It allocates nothing. A header
// line the scan cannot read is skipped; Select parses fully and reports it.
func (d *Dumper) Headers() iter.Seq[Header] {
	return func(yield func(Header) bool) {
		text := d.buf[:d.n]
		pos := 0
		if len(text) == 0 {
			return
		}
		if !bytes.HasPrefix(text, goroutinePrefix) {
			// Text before the first goroutine, as after a panic message.
			pos = len(text)
			if i := bytes.Index(text, firstHeader); i >= 0 {
				pos = i + 1
			}
		}
		for pos < len(text) {
			end, next := blockEnd(text, pos)
			if h, ok := scanHeader(text[pos:end]); ok {
				h.start, h.end = pos, end
				if !yield(h) {
					return
				}
			}
			pos = next
		}
	}
}

// blockEnd returns where the goroutine block starting at pos ends (at its
// first blank line, as the parser ends it, without the last newline) and
// where the next header starts (len(text) if none).
func blockEnd(text []byte, pos int) (end, next int) {
	i := bytes.Index(text[pos:], blankLine)
	if i < 0 {
		end = len(text)
		for end > pos && (text[end-1] == '\n' || text[end-1] == '\r') {
			end--
		}
		return end, len(text)
	}
	end = pos + i
	if end > pos && text[end-1] == '\r' {
		end--
	}
	if bytes.HasPrefix(text[pos+i+2:], goroutinePrefix) {
		return end, pos + i + 2
	}
	return end, nextHeader(text, pos+i)
}

var (
	goroutinePrefix = []byte("goroutine ")
	blockSeparator  = []byte("\n\ngoroutine ")
	blankLine       = []byte("\n\n")
	firstHeader     = []byte("\ngoroutine ")
)

// nextHeader returns the offset of the first header line after pos, or
// len(text). The runtime separates goroutines with one blank line, and no
// line of a goroutine's block starts with "goroutine ".
func nextHeader(text []byte, pos int) int {
	i := bytes.Index(text[pos+1:], blockSeparator)
	if i < 0 {
		return len(text)
	}
	return pos + 1 + i + 2
}

// scanHeader reads the ID and the leaked marker of a block's first line, as
// parseHeader does but without allocating.
func scanHeader(block []byte) (Header, bool) {
	line := block
	if i := bytes.IndexByte(block, '\n'); i >= 0 {
		line = block[:i]
	}
	rest := line[len(goroutinePrefix):]
	i := 0
	var id uint64
	for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
		if id > (1<<64-1)/10 {
			return Header{}, false
		}
		id = id*10 + uint64(rest[i]-'0')
		i++
	}
	if i == 0 {
		return Header{}, false
	}
	open := bytes.IndexByte(rest[i:], '[')
	if open < 0 {
		return Header{}, false
	}
	status := rest[i+open+1:]
	end := bytes.IndexAny(status, ",]")
	if k := bytes.Index(status, []byte(" labels:{")); k >= 0 && (end < 0 || k < end) {
		end = k
	}
	if end < 0 {
		return Header{}, false
	}
	status = status[:end]
	// The markers follow the wait reason in a fixed order: (leaked) (scan)
	// (durable); only the first two can come after (leaked).
	status = bytes.TrimSuffix(status, []byte(" (durable)"))
	status = bytes.TrimSuffix(status, []byte(" (scan)"))
	return Header{ID: id, Leaked: bytes.HasSuffix(status, []byte(" (leaked)"))}, true
}

// IDs appends the IDs of every goroutine of the held dump to dst[:0] and
// returns it sorted: the exact identity baseline that NewSinceIDs and
// (*Dumper).NewSince take. Passing the previous result as dst makes repeated
// looks allocation-free.
func (d *Dumper) IDs(dst []uint64) []uint64 {
	dst = dst[:0]
	for h := range d.Headers() {
		dst = append(dst, h.ID)
	}
	slices.Sort(dst)
	return dst
}

// Select parses the goroutines of the held dump whose header keep accepts,
// in the order printed. Their text is copied out of the buffer (one copy for
// all of them), so they stay valid after the next Take.
func (d *Dumper) Select(keep func(Header) bool) ([]Goroutine, error) {
	var blocks []Header
	size := 0
	for h := range d.Headers() {
		if keep(h) {
			blocks = append(blocks, h)
			size += h.end - h.start + 2
		}
	}
	if len(blocks) == 0 {
		return nil, nil
	}
	var b strings.Builder
	b.Grow(size)
	for _, h := range blocks {
		b.Write(d.buf[h.start:h.end])
		b.WriteString("\n\n")
	}
	gs, err := parseString(b.String())
	if err != nil {
		return nil, fmt.Errorf("gostack: parse this process's goroutine dump (%s): %w", runtime.Version(), err)
	}
	return gs, nil
}

// NewSince returns the goroutines of the held dump whose ID is not in base
// (sorted, from IDs), parsed, sorted by ID: exact identity at the cost of
// parsing only what is new.
//
// It remembers what it returned: on the next call, a goroutine with the same
// ID and the very same text (hashed, so an unchanged parked goroutine) is
// returned again without being parsed or copied. A settle loop calling it on
// every look parses each new goroutine once while it stays parked, so its
// garbage does not grow with the number of looks.
func (d *Dumper) NewSince(base []uint64) ([]Goroutine, error) {
	if d.prev == nil {
		d.seed = maphash.MakeSeed()
		d.prev, d.next = map[uint64]parsedBlock{}, map[uint64]parsedBlock{}
	}
	clear(d.next)
	var out []Goroutine
	var hashes []uint64 // of the blocks selected for parsing, in order
	gs, err := d.Select(func(h Header) bool {
		if _, found := slices.BinarySearch(base, h.ID); found {
			return false
		}
		hash := maphash.Bytes(d.seed, d.buf[h.start:h.end])
		if p, ok := d.prev[h.ID]; ok && p.hash == hash {
			out = append(out, p.g)
			d.next[h.ID] = p
			return false
		}
		hashes = append(hashes, hash)
		return true
	})
	if err != nil {
		clear(d.prev)
		return nil, err
	}
	if len(gs) != len(hashes) {
		clear(d.prev)
		return nil, fmt.Errorf("gostack: %d goroutine blocks parsed to %d goroutines", len(hashes), len(gs))
	}
	for i, g := range gs {
		d.next[g.ID] = parsedBlock{hash: hashes[i], g: g}
		out = append(out, g)
	}
	d.prev, d.next = d.next, d.prev
	slices.SortFunc(out, func(a, b Goroutine) int { return cmpID(a.ID, b.ID) })
	return out, nil
}

// Leaked returns the goroutines of the held dump that the last
// leak-detecting GC proved leaked, parsed, sorted by ID.
func (d *Dumper) Leaked() ([]Goroutine, error) {
	gs, err := d.Select(func(h Header) bool { return h.Leaked })
	slices.SortFunc(gs, func(a, b Goroutine) int { return cmpID(a.ID, b.ID) })
	return gs, err
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Containing parses the goroutines of the held dump whose text contains s
// (a function name, say), in the order printed.
func (d *Dumper) Containing(s string) ([]Goroutine, error) {
	needle := []byte(s)
	return d.Select(func(h Header) bool { return bytes.Contains(d.buf[h.start:h.end], needle) })
}
