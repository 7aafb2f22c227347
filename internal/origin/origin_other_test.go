//go:build !linux

package origin

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartUnsupported(t *testing.T) {
	tr, err := Start(os.Getpid())
	assert.Nil(t, tr)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, errors.ErrUnsupported)
}
