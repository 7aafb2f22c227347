package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Exit statuses.
const (
	exitOK       = 0 // nothing exceeded a threshold
	exitGrowth   = 1 // something did
	exitUsage    = 2 // bad usage, or the target cannot be read
	exitTarget   = 3 // the command crashed or exited non-zero (unless --ignore-exit)
	exitNotReady = 4 // the target never became ready (--ready-port, --ready-after)
)

const usage = `usage:
  leakwatch [flags] -p PID           watch a running process
  leakwatch [flags] -- CMD ARGS...   start CMD and watch it
  leakwatch snapshot -p PID [-o FILE] write a full snapshot as JSON
  leakwatch diff [--tolerance N|CATEGORY=N,...] a.json b.json
Run "leakwatch -h", "leakwatch snapshot -h" or "leakwatch diff -h" for flags.
`

// run is leakwatch with its arguments (without the program name) and
// output streams; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "watch":
			return runWatch(args[1:], stdout, stderr)
		case "snapshot":
			return runSnapshot(args[1:], stdout, stderr)
		case "diff":
			return runDiff(args[1:], stdout, stderr)
		case "help":
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		if !strings.HasPrefix(args[0], "-") {
			return usageError(stderr, "unknown subcommand %q: want watch (the default), snapshot or diff; to watch a command, put it after --: leakwatch -- %s", args[0], strings.Join(args, " "))
		}
	}
	return runWatch(args, stdout, stderr)
}

// usageError reports misuse and returns exitUsage.
func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "leakwatch: "+format+"\n%s", append(args, usage)...)
	return exitUsage
}

// parseFlags parses args into fs; done is true with the status to exit
// with when parsing ended the command (an error, or -h).
func parseFlags(fs *flag.FlagSet, args []string) (status int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	case err != nil:
		return exitUsage, true // the flag package printed the error and the usage
	}
	return 0, false
}

// cannotRead explains why pid could not be read.
func cannotRead(stderr io.Writer, pid int, err error) int {
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		fmt.Fprintf(stderr, "leakwatch: cannot watch processes on %s: descriptors, sockets and threads are read from /proc and netlink, on Linux only (%v)\n", runtime.GOOS, err)
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(stderr, "leakwatch: pid %d: no such process\n", pid)
	case errors.Is(err, os.ErrPermission):
		fmt.Fprintf(stderr, "leakwatch: pid %d: permission denied: another user's process needs root or CAP_SYS_PTRACE (%v)\n", pid, err)
	default:
		fmt.Fprintf(stderr, "leakwatch: pid %d: %v\n", pid, err)
	}
	return exitUsage
}

func checkPID(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("-p %d: want the id of a running process", pid)
	}
	return nil
}
