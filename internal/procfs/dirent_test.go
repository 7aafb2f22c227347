package procfs

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

// dirent builds one linux_dirent64 record, padded to 8 bytes as the kernel does.
func dirent(name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.LittleEndian.PutUint64(b[0:], 1)
	binary.LittleEndian.PutUint16(b[16:], uint16(reclen))
	copy(b[19:], name)
	return b
}

func TestAppendDirentNumbers(t *testing.T) {
	var b []byte
	for _, n := range []string{".", "..", "0", "12", "x1", "1x", "4096", "99999999999"} {
		b = append(b, dirent(n)...)
	}
	assert.Equal(t, []int{0, 12, 4096}, AppendDirentNumbers(nil, b), "dots, names with letters and numbers that overflow are skipped")
	assert.Equal(t, []int{0}, AppendDirentNumbers(nil, append(dirent("0"), dirent("7")[:10]...)), "a record cut short ends decoding")
	bad := dirent("5")
	bad[16], bad[17] = 3, 0
	assert.Empty(t, AppendDirentNumbers(nil, bad), "a record length below the header ends decoding")
}

func FuzzAppendDirentNumbers(f *testing.F) {
	f.Add(append(dirent("3"), dirent("..")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range AppendDirentNumbers(nil, b) {
			if n < 0 {
				t.Fatalf("negative number %d", n)
			}
		}
	})
}
