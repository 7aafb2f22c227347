package gostack

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Parse reads a goroutine dump, the text of runtime.Stack(buf, true) or of
// the pprof goroutine profile at debug=2, and returns its goroutines in the
// order printed. See ParseBytes.
func Parse(r io.Reader) ([]Goroutine, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("gostack: read dump: %w", err)
	}
	return ParseBytes(b)
}

// ParseBytes parses a goroutine dump held in memory. It accepts the output of
// Go 1.25 to 1.27, with or without GODEBUG=tracebacklabels=1 and
// tracebackancestors=N (the ancestors stay in Raw only), and with
// GOTRACEBACK=system's extra header and frame fields.
//
// Text before the first goroutine header (a panic message, for instance) and
// between blocks is ignored. Inside a block, a line the parser cannot read is
// an error naming its line number; no goroutine is returned then. Empty input
// yields no goroutines and no error; non-blank input without any goroutine
// header is an error.
func ParseBytes(b []byte) ([]Goroutine, error) {
	return parseString(string(b))
}

var errNoGoroutine = errors.New("gostack: no goroutine header in input")

// parseString does the work. All strings it returns are substrings of text,
// so a dump costs one copy however many goroutines it holds.
func parseString(text string) ([]Goroutine, error) {
	p := parser{text: text}
	var out []Goroutine
	sawText := false
	for {
		line, start, ok := p.next()
		if !ok {
			break
		}
		if !strings.HasPrefix(line, "goroutine ") {
			if strings.TrimSpace(line) != "" {
				sawText = true
			}
			continue
		}
		g, err := p.block(line, start)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	if len(out) == 0 && sawText {
		return nil, errNoGoroutine
	}
	return out, nil
}

type parser struct {
	text   string
	pos    int // offset of the next line
	lineNo int // 1-based number of the line last returned by next
	// held is a line given back with unread, returned again by next.
	held      bool
	heldLine  string
	heldStart int
}

// next returns the next line without its newline, and its offset.
func (p *parser) next() (line string, start int, ok bool) {
	if p.held {
		p.held = false
		p.lineNo++
		return p.heldLine, p.heldStart, true
	}
	if p.pos >= len(p.text) {
		return "", 0, false
	}
	start = p.pos
	rest := p.text[start:]
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		line = rest[:i]
		p.pos = start + i + 1
	} else {
		line = rest
		p.pos = len(p.text)
	}
	p.lineNo++
	return strings.TrimSuffix(line, "\r"), start, true
}

func (p *parser) unread(line string, start int) {
	p.held, p.heldLine, p.heldStart = true, line, start
	p.lineNo--
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("gostack: line %d: %s", p.lineNo, fmt.Sprintf(format, args...))
}

// block parses one goroutine: its header (already read) and the lines up to
// a blank line, the next header or the end.
func (p *parser) block(header string, start int) (Goroutine, error) {
	var g Goroutine
	if err := parseHeader(header, &g); err != nil {
		return g, p.errorf("%v: %q", err, header)
	}
	end := start + len(header)
	inAncestors := false
	for {
		line, lstart, ok := p.next()
		if !ok {
			break
		}
		if line == "" {
			break
		}
		if strings.HasPrefix(line, "goroutine ") {
			p.unread(line, lstart)
			break
		}
		end = lstart + len(line)
		if inAncestors {
			// GODEBUG=tracebackancestors=N: the stacks of the creators as they
			// were when they ran the go statement. Not this goroutine's frames.
			continue
		}
		switch {
		case strings.HasPrefix(line, "[originating from goroutine "):
			inAncestors = true
		case strings.HasPrefix(line, "created by "):
			if g.Creator.Func != "" {
				return g, p.errorf("second \"created by\" line in goroutine %d", g.ID)
			}
			fn, id, err := parseCreatedBy(line)
			if err != nil {
				return g, p.errorf("%v: %q", err, line)
			}
			g.Creator = Frame{Func: fn, CreatedBy: true}
			g.CreatorID = id
			if f, fend, ok, err := p.position(); err != nil {
				return g, err
			} else if ok {
				g.Creator.File, g.Creator.Line, end = f.File, f.Line, fend
			}
		case line == "...additional frames elided...":
			g.Elided, g.elidedAt = ElidedUnknown, len(g.Frames)
		case strings.HasPrefix(line, "...") && strings.HasSuffix(line, " frames elided..."):
			n, err := strconv.Atoi(line[3 : len(line)-len(" frames elided...")])
			if err != nil || n <= 0 {
				return g, p.errorf("bad elision marker %q", line)
			}
			g.Elided, g.elidedAt = n, len(g.Frames)
		case line[0] == '\t' || line[0] == ' ':
			return g, p.errorf("source position without a function: %q", line)
		default:
			if g.Creator.Func != "" {
				return g, p.errorf("frame after the \"created by\" line in goroutine %d: %q", g.ID, line)
			}
			fn, err := parseFuncLine(line)
			if err != nil {
				return g, p.errorf("%v: %q", err, line)
			}
			fr := Frame{Func: fn}
			if f, fend, ok, err := p.position(); err != nil {
				return g, err
			} else if ok {
				fr.File, fr.Line, end = f.File, f.Line, fend
			}
			g.Frames = append(g.Frames, fr)
		}
	}
	g.Raw = strings.TrimRight(p.text[start:end], "\r")
	return g, nil
}

// position reads the "\tfile:line +0xoff" line that follows a function
// line, if there is one, and returns the offset where it ends.
func (p *parser) position() (Frame, int, bool, error) {
	line, start, ok := p.next()
	if !ok {
		return Frame{}, 0, false, nil
	}
	if !strings.HasPrefix(line, "\t") {
		p.unread(line, start)
		return Frame{}, 0, false, nil
	}
	file, n, err := parsePosition(line[1:])
	if err != nil {
		return Frame{}, 0, false, p.errorf("%v: %q", err, line)
	}
	return Frame{File: file, Line: n}, start + len(line), true, nil
}

// parsePosition splits "/path/to/file.go:123 +0x1d fp=0x... sp=0x..." into
// the file and the line number. Paths may hold spaces and colons (C:\ on
// Windows), so the line number is the digits after the last colon that are
// followed by the end or a space.
func parsePosition(s string) (string, int, error) {
	for end := len(s); end > 0; {
		i := strings.LastIndexByte(s[:end], ':')
		if i <= 0 {
			break
		}
		j := i + 1
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j > i+1 && (j == len(s) || s[j] == ' ') {
			n, err := strconv.Atoi(s[i+1 : j])
			if err == nil {
				return s[:i], n, nil
			}
		}
		end = i
	}
	return "", 0, errors.New("no file:line in source position")
}

// parseFuncLine returns the function of a frame line such as
// "main.(*T).m(0x1, {0x2, 0x3})" or "main.f(...)": everything before the
// last '(', which is what goleak compares.
func parseFuncLine(line string) (string, error) {
	i := strings.LastIndexByte(line, '(')
	if i <= 0 || !strings.HasSuffix(line, ")") {
		return "", errors.New("not a frame line")
	}
	return line[:i], nil
}

// parseCreatedBy reads "created by pkg.f in goroutine 7" (Go 1.21+) or
// "created by pkg.f".
func parseCreatedBy(line string) (string, uint64, error) {
	rest := strings.TrimPrefix(line, "created by ")
	var id uint64
	if i := strings.LastIndex(rest, " in goroutine "); i >= 0 {
		n, err := strconv.ParseUint(rest[i+len(" in goroutine "):], 10, 64)
		if err != nil {
			return "", 0, errors.New("bad creator goroutine id")
		}
		rest, id = rest[:i], n
	}
	if rest == "" || strings.ContainsAny(rest, " \t") {
		return "", 0, errors.New("bad \"created by\" function")
	}
	return rest, id, nil
}

// parseHeader parses
//
//	goroutine 7 [chan receive (durable), 3 minutes, locked to thread, synctest bubble 2 labels:{"k": "v"}]:
//	goroutine 7 gp=0xc000002380 m=0 mp=0x5a6b20 [running]:
//	goroutine 7 [chan receive] {k: v, "odd key": "x"}:
func parseHeader(line string, g *Goroutine) error {
	rest := strings.TrimPrefix(line, "goroutine ")
	i := 0
	for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
		i++
	}
	id, err := strconv.ParseUint(rest[:i], 10, 64)
	if err != nil {
		return errors.New("bad goroutine id")
	}
	g.ID = id
	rest = rest[i:]
	// GOTRACEBACK=system and crashes add " gp=0x... m=N mp=0x..." here.
	for strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, " [") {
		j := strings.IndexByte(rest[1:], ' ')
		if j < 0 {
			return errors.New("no [state] in header")
		}
		word := rest[1 : 1+j]
		if !strings.Contains(word, "=") {
			return errors.New("unexpected word before [state]")
		}
		rest = rest[1+j:]
	}
	rest, ok := strings.CutPrefix(rest, " [")
	if !ok {
		return errors.New("no [state] in header")
	}
	if !strings.HasSuffix(rest, ":") {
		return errors.New("header does not end in ':'")
	}
	rest = rest[:len(rest)-1]

	// The status: up to the first ',' or ']' or " labels:{". Wait reasons
	// never hold those.
	end := strings.IndexAny(rest, ",]")
	if k := strings.Index(rest, " labels:{"); k >= 0 && (end < 0 || k < end) {
		end = k
	}
	if end < 0 {
		return errors.New("unterminated [state]")
	}
	status := rest[:end]
	rest = rest[end:]
	for {
		switch {
		case strings.HasSuffix(status, " (leaked)"):
			g.Leaked, status = true, strings.TrimSuffix(status, " (leaked)")
			continue
		case strings.HasSuffix(status, " (scan)"):
			g.Scan, status = true, strings.TrimSuffix(status, " (scan)")
			continue
		case strings.HasSuffix(status, " (durable)"):
			g.Durable, status = true, strings.TrimSuffix(status, " (durable)")
			continue
		}
		break
	}
	if status == "" {
		return errors.New("empty state")
	}
	g.State = status

	// ", item" annotations.
	for strings.HasPrefix(rest, ", ") {
		rest = rest[2:]
		end := strings.IndexAny(rest, ",]")
		if k := strings.Index(rest, " labels:{"); k >= 0 && (end < 0 || k < end) {
			end = k
		}
		if end < 0 {
			return errors.New("unterminated [state]")
		}
		item := rest[:end]
		rest = rest[end:]
		if err := parseAnnotation(item, g); err != nil {
			return err
		}
	}
	// Go 1.26, GODEBUG=tracebacklabels=1: " labels:{...}" inside the brackets.
	if r, ok := strings.CutPrefix(rest, " labels:{"); ok {
		labels, after, err := parseLabels(r)
		if err != nil {
			return err
		}
		g.Labels, rest = labels, after
	}
	rest, ok = strings.CutPrefix(rest, "]")
	if !ok {
		return errors.New("unexpected text in [state]")
	}
	// Go 1.27: " {...}" after the brackets.
	if r, ok := strings.CutPrefix(rest, " {"); ok {
		if g.Labels != nil {
			return errors.New("labels printed twice")
		}
		labels, after, err := parseLabels(r)
		if err != nil {
			return err
		}
		g.Labels, rest = labels, after
	}
	if rest != "" {
		return errors.New("unexpected text after [state]")
	}
	return nil
}

func parseAnnotation(item string, g *Goroutine) error {
	switch {
	case item == "":
		return errors.New("empty annotation in [state]")
	case item == "locked to thread":
		g.LockedToThread = true
	case strings.HasSuffix(item, " minutes"):
		n, err := strconv.ParseInt(strings.TrimSuffix(item, " minutes"), 10, 64)
		if err != nil || n < 0 || n > int64(1<<63-1)/int64(time.Minute) {
			return fmt.Errorf("bad wait time %q", item)
		}
		g.Wait = time.Duration(n) * time.Minute
	case strings.HasPrefix(item, "synctest bubble "):
		n, err := strconv.ParseUint(strings.TrimPrefix(item, "synctest bubble "), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("bad synctest bubble %q", item)
		}
		g.Bubble = n
	default:
		g.Extra = append(g.Extra, item)
	}
	return nil
}

// parseLabels reads `k: v, "k 2": "v 2"}` (the opening brace already
// consumed) and returns the labels and the text after the closing brace.
// Keys and values are either bare ([A-Za-z0-9./_]+) or Go-quoted strings;
// the pprof debug=1 form `"k":"v"` (no space) is accepted too.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	if r, ok := strings.CutPrefix(s, "}"); ok {
		return labels, r, nil
	}
	for {
		key, r, err := labelString(s)
		if err != nil {
			return nil, "", err
		}
		r, ok := strings.CutPrefix(r, ":")
		if !ok {
			return nil, "", errors.New("label without ':'")
		}
		r = strings.TrimPrefix(r, " ")
		val, r, err := labelString(r)
		if err != nil {
			return nil, "", err
		}
		if _, dup := labels[key]; dup {
			return nil, "", fmt.Errorf("label %q twice", key)
		}
		labels[key] = val
		if r, ok := strings.CutPrefix(r, "}"); ok {
			return labels, r, nil
		}
		if s, ok = strings.CutPrefix(r, ", "); !ok {
			return nil, "", errors.New("unterminated labels")
		}
	}
}

// labelString reads one quoted or bare label key or value.
func labelString(s string) (string, string, error) {
	if strings.HasPrefix(s, `"`) {
		// Find the closing quote, skipping escapes.
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				v, err := strconv.Unquote(s[:i+1])
				if err != nil {
					return "", "", fmt.Errorf("bad quoted label %s", s[:i+1])
				}
				return v, s[i+1:], nil
			}
		}
		return "", "", errors.New("unterminated quoted label")
	}
	i := 0
	for i < len(s) && isBareLabelRune(rune(s[i])) {
		i++
	}
	if i == 0 {
		return "", "", errors.New("empty label")
	}
	return s[:i], s[i:], nil
}
