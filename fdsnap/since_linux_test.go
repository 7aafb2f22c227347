package fdsnap_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/leakcheck/go/fdsnap"
)

// WithSince gives the same snapshot as a plain one, whatever changed: a
// descriptor closed, one opened, one swapped for another object at the
// same number, an anonymous inode swapped for another kind.
func TestWithSinceIsExact(t *testing.T) {
	dir := t.TempDir()
	a, err := os.Create(filepath.Join(dir, "a"))
	require.NoError(t, err)
	defer a.Close()
	b, err := os.Create(filepath.Join(dir, "b"))
	require.NoError(t, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)

	prev, err := fdsnap.Take()
	require.NoError(t, err)

	// Swap b for another file at the same number, and the eventfd for an
	// epoll at the same number.
	bNum := int(b.Fd())
	require.NoError(t, b.Close())
	c, err := os.Create(filepath.Join(dir, "c"))
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, bNum, int(c.Fd()), "the lowest free number is reused")
	require.NoError(t, unix.Close(efd))
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(ep)
	require.Equal(t, efd, ep)

	since, err := fdsnap.Take(fdsnap.WithSince(prev))
	require.NoError(t, err)
	plain, err := fdsnap.Take()
	require.NoError(t, err)
	assert.Equal(t, plain.FDs, since.FDs, "the same descriptors, kinds and identities")
	got, ok := since.Lookup(bNum)
	require.True(t, ok)
	assert.Equal(t, c.Name(), got.Path(), "the swapped file is read, not copied")
	got, ok = since.Lookup(ep)
	require.True(t, ok)
	assert.Equal(t, fdsnap.EventPoll, got.Kind, "an anonymous inode is always read")
	assert.NotEmpty(t, fdsnap.Compare(prev, since).Replaced)
}
