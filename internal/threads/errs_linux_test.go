package threads

import (
	"errors"
	"os"
)

func errorsIsPermission(err error) bool { return errors.Is(err, os.ErrPermission) }
