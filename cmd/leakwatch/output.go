package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// outFile is an output file opened before the watch, written after it.
type outFile struct {
	f       *os.File
	created bool // it did not exist: discard removes it
	written bool
}

// outputs are the --json and --svg files, nil when not asked for.
type outputs struct{ json, svg *outFile }

// openOutputs opens (creating or truncating) the files a watch will write,
// so that a path that cannot be written fails before the watch starts.
func openOutputs(jsonName, svgName string) (*outputs, error) {
	o := &outputs{}
	var err error
	if o.json, err = openOut("--json", jsonName); err != nil {
		return nil, err
	}
	if o.svg, err = openOut("--svg", svgName); err != nil {
		o.discard()
		return nil, err
	}
	return o, nil
}

func openOut(flag, name string) (*outFile, error) {
	if name == "" {
		return nil, nil
	}
	st, err := os.Stat(name)
	if err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s %s: a directory; want the path of a file to write", flag, name)
	}
	created := errors.Is(err, fs.ErrNotExist)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return &outFile{f: f, created: created}, nil
}

// write writes the file with fn and closes it.
func (o *outFile) write(fn func(io.Writer) error) error {
	o.written = true
	err := fn(o.f)
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard closes the files that were not written, removing those the
// watch created: a watch that failed leaves no empty file behind.
func (o *outputs) discard() {
	if o == nil {
		return
	}
	for _, f := range []*outFile{o.json, o.svg} {
		if f == nil || f.written {
			continue
		}
		f.written = true
		f.f.Close()
		if f.created {
			os.Remove(f.f.Name())
		}
	}
}
