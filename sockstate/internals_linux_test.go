package sockstate

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leakcheck/go/internal/sockdiag"
)

func TestByInode(t *testing.T) {
	mk := func(inos ...uint64) []Socket {
		var s []Socket
		for _, ino := range inos {
			s = append(s, Socket{Inode: ino, FD: int(ino) + 100, Proto: TCP, Local: netip.MustParseAddrPort("127.0.0.1:1")})
		}
		return s
	}
	shuffled := mk(slices.Collect(func(yield func(uint64) bool) {
		for _, i := range rand.Perm(3000) {
			if !yield(uint64(i) + 1) {
				return
			}
		}
	})...)
	for _, tc := range []struct {
		name string
		in   []Socket
	}{
		{"empty: nothing to sort", nil},
		{"already sorted: returned as is", mk(1, 2, 9)},
		{"reversed: every socket moves", mk(9, 2, 1)},
		{"3000 shuffled: keys sorted, each socket carried with its key", shuffled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := byInode(slices.Clone(tc.in))
			require.Len(t, got, len(tc.in))
			require.True(t, slices.IsSortedFunc(got, func(a, b Socket) int { return int(a.Inode) - int(b.Inode) }))
			for _, s := range got {
				require.Equal(t, int(s.Inode)+100, s.FD, "socket %d lost its fields", s.Inode)
			}
		})
	}
}

func TestRecordsKeepOrderAcrossChunks(t *testing.T) {
	var r records
	const n = 2*recordChunk + 7 // two full chunks and part of a third
	for i := range n {
		r.add(&sockdiag.InetSock{Inode: uint32(i)})
	}
	require.Len(t, r.chunks, 3)
	var got []uint32
	for _, c := range r.chunks {
		require.LessOrEqual(t, len(c), recordChunk)
		for _, s := range c {
			got = append(got, s.Inode)
		}
	}
	require.Len(t, got, n)
	for i, ino := range got {
		require.Equal(t, uint32(i), ino)
	}
}
