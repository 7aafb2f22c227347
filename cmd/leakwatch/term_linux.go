package main

import (
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// ownProcessGroup makes cmd lead a process group of its own, so a Ctrl-C
// in the terminal reaches leakwatch alone, and has the kernel send it
// SIGTERM if leakwatch dies first.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// terminateGroup sends cmd's process group SIGTERM, or SIGKILL with kill.
func terminateGroup(cmd *exec.Cmd, kill bool) {
	sig := unix.SIGTERM
	if kill {
		sig = unix.SIGKILL
	}
	_ = unix.Kill(-cmd.Process.Pid, sig)
}

// signalName returns the signal's name, "SIGSEGV".
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return sig.String()
}
