package procs

import (
	"os"
)

var procFS = os.DirFS("/proc")

// Children lists the children of process pid (see ChildrenFS).
func Children(pid int) ([]Process, error) { return ChildrenFS(procFS, pid) }
