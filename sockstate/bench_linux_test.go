package sockstate

import (
	"fmt"
	"net"
	"testing"

	"github.com/leakcheck/go/fdsnap"
)

// holdTCP opens n/2 loopback connections and keeps both ends: n sockets.
func holdTCP(b *testing.B, n int) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	for range n / 2 {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close(); s.Close() })
	}
}

// BenchmarkTake measures a full fd + socket snapshot of the current process
// holding 10, 1000 and 10000 TCP sockets, with each way of reading them.
// Run with -benchtime=1x for a quick check.
func BenchmarkTake(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			holdTCP(b, n)
			for _, m := range selfMethods {
				if m.name == "getsockopt" && n > 1000 {
					continue
				}
				b.Run(m.name, func(b *testing.B) {
					for b.Loop() {
						s, err := Take(m.opt)
						if err != nil {
							b.Fatal(err)
						}
						if len(s.Sockets) < n {
							b.Fatalf("%d sockets, want ≥ %d", len(s.Sockets), n)
						}
					}
				})
			}
			b.Run("count", func(b *testing.B) {
				for b.Loop() {
					if _, err := Count(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("fdsnap-only", func(b *testing.B) {
				for b.Loop() {
					if _, err := fdsnap.Take(); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
