package gostack

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ProfileRecord is one entry of the goroutine profile in its debug=1 text
// form: Count goroutines with the same stack and labels.
type ProfileRecord struct {
	Count  int
	PCs    []uintptr         // the "@ 0x..." return addresses, innermost first
	Labels map[string]string // from "# labels: {...}"; nil if none
	// Frames are the symbolized "#\t0x...\tfunc+0x1d\tfile:line" lines, with
	// every frame the profile shows (runtime.gopark included).
	Frames []Frame
}

// ParseProfile parses `pprof.Lookup("goroutine").WriteTo(w, 1)`:
//
//	goroutine profile: total 27
//	3 @ 0x487e8e 0x417a5c 0x48f6c1
//	# labels: {"leakcheck.test":"TestX"}
//	#	0x56c65d	main.leaky.func1+0x1d	/src/main.go:69
//
// Malformed lines are an error naming the line number.
func ParseProfile(r io.Reader) ([]ProfileRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		out    []ProfileRecord
		cur    *ProfileRecord
		lineNo int
		total  = -1
	)
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("gostack: profile line %d: %s", lineNo, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			cur = nil
		case total < 0:
			n, ok := strings.CutPrefix(line, "goroutine profile: total ")
			if !ok {
				return nil, errorf("want %q header, got %q", "goroutine profile: total N", line)
			}
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return nil, errorf("bad total %q", n)
			}
			total = v
		case strings.HasPrefix(line, "# labels: {"):
			if cur == nil || cur.Labels != nil || len(cur.Frames) > 0 {
				return nil, errorf("labels outside a record: %q", line)
			}
			labels, rest, err := parseLabels(strings.TrimPrefix(line, "# labels: {"))
			if err != nil || rest != "" {
				if err == nil {
					err = errors.New("text after labels")
				}
				return nil, errorf("%v: %q", err, line)
			}
			cur.Labels = labels
		case strings.HasPrefix(line, "#\t"):
			if cur == nil {
				return nil, errorf("frame outside a record: %q", line)
			}
			f, err := parseProfileFrame(line[2:])
			if err != nil {
				return nil, errorf("%v: %q", err, line)
			}
			cur.Frames = append(cur.Frames, f)
		default:
			if cur != nil {
				return nil, errorf("unexpected line in record: %q", line)
			}
			rec, err := parseProfileHead(line)
			if err != nil {
				return nil, errorf("%v: %q", err, line)
			}
			out = append(out, rec)
			cur = &out[len(out)-1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("gostack: read profile: %w", err)
	}
	if total < 0 {
		return nil, errors.New("gostack: empty goroutine profile")
	}
	return out, nil
}

// parseProfileHead reads "3 @ 0x487e8e 0x417a5c".
func parseProfileHead(line string) (ProfileRecord, error) {
	count, pcs, ok := strings.Cut(line, " @")
	if !ok {
		return ProfileRecord{}, errors.New("not a record")
	}
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 {
		return ProfileRecord{}, errors.New("bad count")
	}
	rec := ProfileRecord{Count: n}
	for _, f := range strings.Fields(pcs) {
		pc, err := strconv.ParseUint(strings.TrimPrefix(f, "0x"), 16, 64)
		if err != nil || !strings.HasPrefix(f, "0x") {
			return ProfileRecord{}, fmt.Errorf("bad pc %q", f)
		}
		rec.PCs = append(rec.PCs, uintptr(pc))
	}
	return rec, nil
}

// parseProfileFrame reads "0x56c65d\tmain.f+0x1d\t\t/src/main.go:69".
func parseProfileFrame(s string) (Frame, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\t' })
	if len(fields) != 3 {
		return Frame{}, errors.New("want pc, function and position")
	}
	fn := fields[1]
	if i := strings.LastIndex(fn, "+0x"); i > 0 {
		fn = fn[:i]
	}
	file, line, err := parsePosition(fields[2])
	if err != nil {
		return Frame{}, err
	}
	return Frame{Func: fn, File: file, Line: line}, nil
}
