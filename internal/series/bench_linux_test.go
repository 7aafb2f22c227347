package series

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/leakcheck/go/fdsnap"
)

// BenchmarkSample measures one sample of the current process holding about
// n descriptors: regular files, plus a TCP listener and a connected pair.
// Soak tests sample often, so this is the cost per iteration they pay.
//
//	go test -run='^$' -bench=Sample -benchtime=2s ./internal/series
func BenchmarkSample(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()

	path := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	var open []*os.File
	defer func() {
		for _, f := range open {
			f.Close()
		}
	}()
	for _, n := range []int{10, 1000, 10000} {
		have, err := fdsnap.Count()
		if err != nil {
			b.Fatal(err)
		}
		for ; have < n; have++ {
			f, err := os.Open(path)
			if err != nil {
				b.Fatalf("opening descriptor %d: %v", have, err)
			}
			open = append(open, f)
		}
		b.Run(fmt.Sprintf("fds=%d", n), func(b *testing.B) {
			s := Sampler{}
			for b.Loop() {
				if _, err := s.Sample(); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The floor: the descriptor listing every sample starts with.
		b.Run(fmt.Sprintf("fds=%d/fdsnap.Take", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := fdsnap.Take(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
