//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "compare: compares leakcheck with lsof, ss and goleak on Linux; not supported on %s\n", runtime.GOOS)
	os.Exit(2)
}
