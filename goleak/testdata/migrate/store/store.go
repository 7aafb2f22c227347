// Package store keeps records in segment files.
package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// Store appends records to the current segment of a directory.
type Store struct {
	dir     string
	n       int
	current *os.File
	// retired segments stay open for readers that still hold them.
	retired []*os.File
}

// Open opens the store in dir.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir}
	return s, s.roll()
}

func (s *Store) roll() error {
	f, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("%08d.seg", s.n)))
	if err != nil {
		return err
	}
	if s.current != nil {
		s.retired = append(s.retired, s.current)
	}
	s.current = f
	s.n++
	return nil
}

// Append writes a record.
func (s *Store) Append(rec []byte) error {
	_, err := s.current.Write(rec)
	return err
}

// Roll starts a new segment.
func (s *Store) Roll() error { return s.roll() }

// Close closes the current segment.
//
// The bug the tests catch: retired segments are never closed.
func (s *Store) Close() error { return s.current.Close() }

// all is every store opened, for the admin page.
var all []*Store

// OpenTracked opens a store and lists it on the admin page.
func OpenTracked(dir string) (*Store, error) {
	s, err := Open(dir)
	if err == nil {
		all = append(all, s)
	}
	return s, err
}
