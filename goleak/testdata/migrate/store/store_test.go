package store

import (
	"testing"

	"go.uber.org/goleak"
)

func TestStoreOpenClose(t *testing.T) {
	defer goleak.VerifyNone(t)

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// The store is closed in a cleanup, which runs after the deferred
// VerifyNone: its file is still open when VerifyNone looks.
func TestStoreClosedInCleanup(t *testing.T) {
	defer goleak.VerifyNone(t)

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Append([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
}

// Last in the file: the retired segment it leaks stays open.
func TestStoreRoll(t *testing.T) {
	defer goleak.VerifyNone(t)

	s, err := OpenTracked(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Roll(); err != nil {
		t.Fatal(err)
	}
}
