//go:build !linux

package main

import (
	"io"
	"os/exec"
)

// isTerminal reports false: leakwatch only watches processes on Linux, and
// refuses to start elsewhere before it would draw anything.
func isTerminal(io.Writer) bool { return false }

func ownProcessGroup(*exec.Cmd) {}

func terminateGroup(cmd *exec.Cmd, _ bool) { _ = cmd.Process.Kill() }
