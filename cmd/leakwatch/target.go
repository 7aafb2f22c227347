package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// childGrace is how long a command gets to exit after SIGTERM.
const childGrace = 5 * time.Second

// command is a command leakwatch started and watches.
type command struct {
	name    string // the command's base name
	cmd     *exec.Cmd
	pid     int
	exited  chan struct{} // closed when the command has exited
	waitErr error         // the command's exit, once exited is closed
	stopped bool          // leakwatch sent it SIGTERM
	killed  bool          // and SIGKILL, childGrace later
}

// startCommand starts argv in a process group of its own, with leakwatch's
// standard input and with its output going to output (leakwatch's
// standard error).
func startCommand(argv []string, output io.Writer) (*command, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = output, output // leakwatch's standard output is its report alone
	ownProcessGroup(cmd)
	c := &command{name: filepath.Base(argv[0]), cmd: cmd, exited: make(chan struct{})}
	// The parent-death signal is tied to the thread that started the
	// command, not to the process: start and wait for it on a thread kept
	// for that, so the runtime never retires it while the command runs.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	c.pid = cmd.Process.Pid
	return c, nil
}

// hasExited reports whether the command has exited, waiting up to d for it.
func (c *command) hasExited(d time.Duration) bool {
	select {
	case <-c.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// stop ends the command if it is still running: SIGTERM to its group, then
// SIGKILL after childGrace.
func (c *command) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.stopped = true
	terminateGroup(c.cmd, false)
	select {
	case <-c.exited:
	case <-time.After(childGrace):
		c.killed = true
		terminateGroup(c.cmd, true)
		<-c.exited
	}
}

// fate is how the command ended, as the summary prints it and the JSON
// holds it.
type fate struct {
	PID      int    `json:"pid"`
	Command  string `json:"command"`
	ExitCode *int   `json:"exit_code"` // null when a signal ended it
	Signal   string `json:"signal,omitempty"`
	Stopped  bool   `json:"stopped_by_leakwatch"` // leakwatch sent SIGTERM (--duration, Ctrl-C)
	Failed   bool   `json:"failed"`               // it crashed or exited non-zero on its own
	Text     string `json:"text"`
}

// sigtermStatus is the exit status of a program that exits on SIGTERM by
// the shells' and the JVM's convention, 128 + 15.
const sigtermStatus = 128 + int(syscall.SIGTERM)

// fate describes how the command ended; call it once exited is closed.
func (c *command) fate() fate {
	f := fate{PID: c.pid, Command: c.name, Stopped: c.stopped}
	who := fmt.Sprintf("%s (pid %d)", c.name, c.pid)
	ps := c.cmd.ProcessState
	var ee *exec.ExitError
	if ps == nil || (c.waitErr != nil && !errors.As(c.waitErr, &ee)) {
		f.Failed = true
		f.Text = fmt.Sprintf("%s: waiting for it failed: %v", who, c.waitErr)
		return f
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		f.Signal = signalName(sig)
		desc := fmt.Sprintf("signal %s (%v)", f.Signal, sig)
		if ws.CoreDump() {
			desc += ", core dumped"
		}
		switch {
		case c.killed && sig == syscall.SIGKILL:
			f.Text = fmt.Sprintf("%s stopped by leakwatch: killed with SIGKILL, still running %v after SIGTERM", who, childGrace)
		case c.stopped && sig == syscall.SIGTERM:
			f.Text = fmt.Sprintf("%s stopped by leakwatch: %s", who, desc)
		case c.stopped:
			f.Failed = true
			f.Text = fmt.Sprintf("%s ended by %s after leakwatch's SIGTERM", who, desc)
		default:
			f.Failed = true
			f.Text = fmt.Sprintf("%s crashed: %s", who, desc)
		}
		return f
	}
	code := ps.ExitCode()
	f.ExitCode = &code
	switch {
	case c.stopped && (code == 0 || code == sigtermStatus):
		f.Text = fmt.Sprintf("%s stopped by leakwatch: SIGTERM, exited with status %d", who, code)
	case c.stopped:
		f.Failed = true
		f.Text = fmt.Sprintf("%s exited with status %d after leakwatch's SIGTERM", who, code)
	case code != 0:
		f.Failed = true
		f.Text = fmt.Sprintf("%s exited with status %d", who, code)
	default:
		f.Text = fmt.Sprintf("%s exited with status 0", who)
	}
	return f
}
