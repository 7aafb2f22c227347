//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "sockcmp: compares socket snapshots with lsof and ss on Linux; not supported on %s\n", runtime.GOOS)
	os.Exit(2)
}
