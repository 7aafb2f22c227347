// Command demo leaks real resources the way the incidents behind leakcheck
// did, and prints what leakcheck reports about each.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/leakcheck/go/fdsnap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	// The runtime's own descriptors are created up front so they are part
	// of the baseline, as leakcheck does before every check.
	if _, err := fdsnap.RuntimeFDs(); err != nil {
		return err
	}
	before, err := fdsnap.Take(fdsnap.WithDetail())
	if err != nil {
		return err
	}

	// A log store deletes a topic but one replica never closes its segments.
	dir, err := os.MkdirTemp("", "demo-topic-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var leaked []*os.File
	for p := range 3 {
		for _, name := range []string{"00000000000000000000.log", "00000000000000000000.index"} {
			path := filepath.Join(dir, fmt.Sprintf("topic-%d", p), name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			leaked = append(leaked, f)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}

	after, err := fdsnap.Take(fdsnap.WithDetail())
	if err != nil {
		return err
	}
	fmt.Println("== segment store: topic deleted, one replica's segment files never closed")
	fmt.Println(fdsnap.Compare(before, after))
	for _, f := range leaked {
		f.Close()
	}
	return nil
}
