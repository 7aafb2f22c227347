//go:build !linux

package main

import (
	"io"
	"os/exec"
	"syscall"
)

// isTerminal reports false: leakwatch only watches processes on Linux, and
// refuses to start elsewhere before it would draw anything.
func isTerminal(io.Writer) bool { return false }

func ownProcessGroup(*exec.Cmd) {}

func terminateGroup(cmd *exec.Cmd, _ bool) { _ = cmd.Process.Kill() }

// signalName returns the signal's description: leakwatch starts commands
// on Linux only.
func signalName(sig syscall.Signal) string { return sig.String() }
